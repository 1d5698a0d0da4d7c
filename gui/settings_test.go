package gui

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// setting returns the value the server has for key.
func (h *harness) setting(key string) string {
	h.t.Helper()
	all, err := h.api.Settings(h.ctx())
	if err != nil {
		h.t.Fatalf("Settings: %v", err)
	}
	i := slices.IndexFunc(all, func(s admin.Setting) bool { return s.Key == key })
	if i < 0 {
		h.t.Fatalf("no setting %s", key)
	}
	return all[i].Value
}

// settingsShown waits until the Settings tab shows every setting.
func (h *harness) settingsShown() []admin.Setting {
	h.t.Helper()
	h.showTab("Settings")
	all, err := h.api.Settings(h.ctx())
	if err != nil {
		h.t.Fatalf("Settings: %v", err)
	}
	h.waitFor("every setting on the Settings tab", func() bool { return len(h.ui.settings.rows) == len(all) })
	return all
}

// TestSettingsTab: every setting of the registry shows, in a card for its
// subsystem, with its help and default, as a widget for its kind.
func TestSettingsTab(t *testing.T) {
	h := newHarness(t)
	all := h.settingsShown()

	var cards []string
	walk(h.ui.settings.content, func(o fyne.CanvasObject) {
		if c, ok := o.(*widget.Card); ok {
			cards = append(cards, c.Title)
		}
	})
	for _, want := range []string{"General", "Certificates", "Certificates from Let's Encrypt (ACME)", "LAN announcement", "Limits", "Contact addresses", "Client connections"} {
		if !slices.Contains(cards, want) {
			t.Errorf("no card %q; cards: %q", want, cards)
		}
	}
	for _, s := range all {
		r := h.ui.settings.rows[s.Key]
		if r == nil {
			t.Errorf("setting %s not shown", s.Key)
			continue
		}
		if !h.showsText(s.Key) {
			t.Errorf("the tab does not name %s", s.Key)
		}
		if s.Default != "" && !s.Secret && !h.showsText("Default: "+s.Default+".") {
			t.Errorf("the tab does not show the default of %s (%s)", s.Key, s.Default)
		}
		var kind string
		switch {
		case r.check != nil:
			kind = "check"
		case r.pick != nil:
			kind = "select"
		case r.entry != nil && r.entry.Password:
			kind = "password"
		case r.entry != nil:
			kind = "entry"
		}
		want := map[string]string{"bool": "check", "enum": "select"}[s.Kind]
		if s.Secret {
			want = "password"
		} else if want == "" {
			want = "entry"
		}
		if kind != want {
			t.Errorf("setting %s (%s): a %s, want a %s", s.Key, s.Kind, kind, want)
		}
	}
	if !h.showsText("A change takes effect when Hearth starts again.") {
		t.Error("no setting says it needs a restart")
	}
	groups := map[string]string{"limits.stanza_bytes": "limits", "domain": "", "family.circle": "family"}
	for key, want := range groups {
		if got := settingGroup(key); got != want {
			t.Errorf("group of %s: %q, want %q", key, got, want)
		}
	}
	if got := groupTitle("pubsub"); got != "Pubsub" {
		t.Errorf("title of an unknown group: %q", got)
	}
}

// TestSettingsEdit: a value is checked as it is typed, with the reason in
// plain words next to the field; a good one is saved and applied, or says
// that it needs a restart; check boxes and lists save at once.
func TestSettingsEdit(t *testing.T) {
	h := newHarness(t)
	h.settingsShown()
	rows := h.ui.settings.rows

	offline := rows["limits.offline_messages"]
	for _, tc := range []struct{ typed, says string }{
		{"0", "0 is too small: the least is 1."},
		{"lots", `"lots" is not a whole number.`},
	} {
		offline.entry.SetText(tc.typed)
		if offline.result.Text != tc.says || !offline.result.Visible() || offline.result.Importance != widget.DangerImportance {
			t.Errorf("typed %q: next to the field %q (shown %v), want %q", tc.typed, offline.result.Text, offline.result.Visible(), tc.says)
		}
		if !offline.save.Disabled() {
			t.Errorf("typed %q: Save is enabled", tc.typed)
		}
	}
	offline.entry.SetText("500")
	if offline.result.Visible() || offline.save.Disabled() {
		t.Errorf("typed 500: %q next to the field, Save disabled %v", offline.result.Text, offline.save.Disabled())
	}
	test.Tap(offline.save)
	h.waitFor("limits.offline_messages saved", func() bool { return offline.result.Text == "Saved and applied." })
	if got := h.setting("limits.offline_messages"); got != "500" {
		t.Errorf("limits.offline_messages on the server: %q, want 500", got)
	}

	// Enter saves too; the server's form of the value comes back.
	domain := rows["domain"]
	domain.entry.SetText("Family.Example.ORG")
	domain.entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	h.waitFor("the domain saved", func() bool {
		return domain.result.Text == "Saved. Restart Hearth for this to take effect." && domain.entry.Text == "family.example.org"
	})
	if domain.result.Importance != widget.WarningImportance {
		t.Errorf("restart note importance %v", domain.result.Importance)
	}

	mode := rows["tls.mode"]
	mode.pick.SetSelected("local")
	h.waitFor("tls.mode saved", func() bool { return h.setting("tls.mode") == "local" })
	h.waitFor("the restart note", func() bool { return mode.result.Text == "Saved. Restart Hearth for this to take effect." })

	mdns := rows["mdns.enabled"]
	test.Tap(mdns.check)
	h.waitFor("mdns.enabled saved", func() bool { return h.setting("mdns.enabled") == "false" })
	h.waitFor("applied", func() bool { return mdns.result.Text == "Saved and applied." })

	// A secret is never shown: the field says it is set.
	token := rows["acme.dns_token"]
	token.entry.SetText("duck-token-1234")
	test.Tap(token.save)
	h.waitFor("the token saved", func() bool { return token.entry.Text == "" && strings.HasPrefix(token.entry.PlaceHolder, "(set)") })
	if h.setting("acme.dns_token") != admin.SecretShown {
		t.Errorf("acme.dns_token on the server: %q, want it set", h.setting("acme.dns_token"))
	}
	test.Tap(token.clear)
	h.waitFor("the question", func() bool { return h.dialogTitled("Remove acme.dns_token?") })
	h.tap("Keep it")
	if h.setting("acme.dns_token") != admin.SecretShown {
		t.Errorf("acme.dns_token removed although the answer was Keep it")
	}
	test.Tap(token.clear)
	h.tap("Remove")
	h.waitFor("the token removed", func() bool { return token.entry.PlaceHolder == "(not set)" && token.clear.Disabled() })
	if got := h.setting("acme.dns_token"); got != "" {
		t.Errorf("acme.dns_token on the server after Remove: %q, want none", got)
	}
}

// TestSettingsLive: a change made elsewhere (hearth config set) shows at
// once, without touching a field being edited.
func TestSettingsLive(t *testing.T) {
	h := newHarness(t)
	h.settingsShown()
	rows := h.ui.settings.rows
	rows["limits.resources"].entry.SetText("12") // being edited
	for key, value := range map[string]string{"limits.roster_items": "77", "limits.resources": "9", "mdns.enabled": "false", "tls.mode": "files"} {
		if _, err := h.api.SetSetting(h.ctx(), key, value); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("the changes on the tab", func() bool {
		return rows["limits.roster_items"].entry.Text == "77" && !rows["mdns.enabled"].check.Checked && rows["tls.mode"].pick.Selected == "files"
	})
	if got := rows["limits.resources"].entry.Text; got != "12" {
		t.Errorf("the field being edited shows %q, want what was typed, 12", got)
	}
}

func TestPlainSettingError(t *testing.T) {
	for _, tc := range []struct {
		key  string
		err  error
		want string
	}{
		{"limits.stanza_bytes", fmt.Errorf("set %w", check("limits.stanza_bytes", "100")), "100 is too small: the least is 10000."},
		{"c2s.idle_timeout", check("c2s.idle_timeout", "5"), `"5" is not a duration above zero (for example 90s, 5m, 1h)`},
		{"tls.mode", check("tls.mode", "bogus"), `"bogus" is not one of auto, acme, local, files.`},
		{"no.such", check("no.such", "x"), "This version of Hearth has no such setting."},
		{"mdns.enabled", fmt.Errorf("set mdns.enabled: %w", admin.ErrOffline), "not saved: the server is not running"},
		{"mdns.enabled", errors.New("disk full"), "not saved: disk full"},
		{"family.circle", fmt.Errorf("%w: %w", admin.ErrNotApplied, errors.New("the family circle could not be completed: alice and bob: roster full; set it again to retry")),
			"Saved, but not applied: the family circle could not be completed: alice and bob: roster full; set it again to retry."},
	} {
		if got := plainSettingError(tc.key, tc.err); got != tc.want {
			t.Errorf("%s: %v: %q, want %q", tc.key, tc.err, got, tc.want)
		}
	}
}

// check is admin.CheckSetting's error.
func check(key, value string) error {
	_, err := admin.CheckSetting(key, value)
	return err
}
