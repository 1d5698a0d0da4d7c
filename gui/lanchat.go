package gui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// lanTab is chat on the LAN without accounts (XEP-0174): how it stands,
// which accounts take part (a check each), which are announced now, and
// the people found on the LAN. It reloads on the server's events and,
// since peers come and go without one, every few seconds while in sight.
type lanTab struct {
	u       *UI
	content fyne.CanvasObject
	load    *reloader

	state     *widget.Label
	accounts  *fyne.Container
	result    *widget.Label // why switching an account failed, or ""
	announced *widget.Card
	annRows   *fyne.Container
	peers     *widget.Card
	peerRows  *fyne.Container
}

func newLANTab(u *UI) *lanTab {
	t := &lanTab{u: u}
	t.load = &reloader{u: u, load: t.loadState}
	t.state = wrapped("Loading…")
	t.accounts = container.NewVBox()
	t.result = wrapped("")
	t.result.Importance = widget.DangerImportance
	t.result.Hide()
	t.annRows = container.NewVBox()
	t.peerRows = container.NewVBox()
	intro := widget.NewCard("Chat on the LAN", "", container.NewVBox(
		wrapped("People on this network who chat without a server (Pidgin's or Adium's Bonjour, Gajim's zeroconf "+
			"accounts) and the accounts checked below can talk to each other. A checked account is announced on "+
			"the LAN while it is online, and sees the people found there. The setting linklocal.enabled "+
			"switches it off for everyone."),
		t.state,
	))
	t.announced = widget.NewCard("Announced now", "", t.annRows)
	t.peers = widget.NewCard("People on the LAN", "", t.peerRows)
	body := container.NewGridWithColumns(2,
		container.NewVBox(intro, widget.NewCard("Accounts that take part", "", container.NewVBox(t.accounts, t.result))),
		container.NewVBox(t.announced, t.peers),
	)
	t.content = container.NewVScroll(body)
	return t
}

// handle follows the server's events: accounts, presence, the setting.
func (t *lanTab) handle(ev admin.Event) {
	switch ev.Kind {
	case admin.EventUsers, admin.EventPresence, admin.EventSessionUp, admin.EventSessionDown:
		t.load.trigger()
	case admin.EventSettings:
		if ev.Key == "" || strings.HasPrefix(ev.Key, "linklocal.") {
			t.load.trigger()
		}
	}
}

func (t *lanTab) loadState(ctx context.Context) func() {
	st, err := t.u.api.LinkLocal(ctx)
	users, uerr := t.u.api.Users(ctx)
	return func() {
		if err == nil {
			err = uerr
		}
		if err != nil {
			t.state.SetText(describe("Cannot read how chat on the LAN stands", err).Error())
			t.state.Importance = widget.DangerImportance
			t.state.Refresh()
			return
		}
		t.set(st, users)
	}
}

func (t *lanTab) set(st admin.LinkLocalStatus, users []admin.User) {
	t.state.Importance = widget.MediumImportance
	switch {
	case st.Running:
		t.state.SetText(fmt.Sprintf("On. People on the LAN appear as name%%machine@%s.", st.Host))
	case !st.Enabled:
		t.state.SetText("Off (linklocal.enabled, on the Settings tab).")
	default:
		t.state.SetText("Not running: " + st.Reason + ".")
	}

	slices.SortFunc(users, func(a, b admin.User) int { return strings.Compare(a.JID, b.JID) })
	t.accounts.RemoveAll()
	for _, u := range users {
		name, _, _ := strings.Cut(u.JID, "@")
		check := widget.NewCheck(u.JID, nil)
		check.SetChecked(slices.Contains(st.OptedIn, name))
		check.OnChanged = func(on bool) { t.setAccount(u.JID, on) }
		t.accounts.Add(check)
	}
	if len(users) == 0 {
		t.accounts.Add(wrapped("No accounts yet."))
	}

	t.annRows.RemoveAll()
	for _, a := range st.Announced {
		line := a.Name + " (" + a.User + "): " + statusWords(a.Status)
		if a.Msg != "" {
			line += ", " + a.Msg
		}
		t.annRows.Add(wrapped(line))
	}
	if len(st.Announced) == 0 {
		t.annRows.Add(wrapped("No one: an account is announced while it takes part and is online."))
	}
	t.peerRows.RemoveAll()
	for _, p := range st.Peers {
		line := p.Name + ": " + statusWords(p.Status)
		if p.Msg != "" {
			line += ", " + p.Msg
		}
		t.peerRows.Add(wrapped(line + "\n" + p.JID + " at " + strings.Join(p.Addrs, " ")))
	}
	if len(st.Peers) == 0 {
		t.peerRows.Add(wrapped("No one found (looked for only while an account takes part)."))
	}
	t.content.Refresh()
}

// setAccount turns chat on the LAN on or off for an account.
func (t *lanTab) setAccount(jid string, on bool) {
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.SetLinkLocal(ctx, jid, on)
		return func() {
			if err != nil {
				t.result.SetText(describe("Cannot change "+jid, err).Error())
				t.result.Show()
			} else {
				t.result.Hide()
			}
			t.load.trigger()
		}
	})
}

// statusWords says an XEP-0174 status in words.
func statusWords(s string) string {
	switch s {
	case "away":
		return "away"
	case "dnd":
		return "busy"
	}
	return "available"
}
