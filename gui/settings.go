package gui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// settingsTab shows every key of the settings registry, grouped by
// subsystem (the key's prefix, so that new keys find their group by
// themselves), each with its help, its default and a widget for its kind.
// A value is checked as it is typed; what the server refuses is shown next
// to the field in plain words, and so is whether a change needs a restart.
type settingsTab struct {
	u       *UI
	content fyne.CanvasObject

	status *widget.Label // loading, or why the settings cannot be read
	groups *fyne.Container
	scroll *container.Scroll

	keys []string // shown, in order: a different list rebuilds the tab
	rows map[string]*settingRow
}

func newSettingsTab(u *UI) *settingsTab {
	t := &settingsTab{u: u, rows: map[string]*settingRow{}}
	t.status = wrapped("Loading…")
	intro := wrapped("Changes apply to the running server at once, except where a setting says it needs a restart. " +
		"The same settings can be read and changed with hearth config.")
	t.groups = container.NewVBox()
	// The external components follow the settings (components.listen
	// among them).
	t.scroll = container.NewVScroll(container.NewVBox(intro, t.status, t.groups, u.components.content))
	t.content = t.scroll
	return t
}

func (t *settingsTab) load(ctx context.Context) func() {
	settings, err := t.u.api.Settings(ctx)
	return func() { t.set(settings, err) }
}

// set shows the settings as loaded: it updates the rows in place, or
// builds them again when the keys are not the same.
func (t *settingsTab) set(settings []admin.Setting, err error) {
	if err != nil {
		t.status.SetText(describe("cannot read the settings", err).Error())
		t.status.Importance = widget.DangerImportance
		t.status.Show()
		t.status.Refresh()
		return
	}
	t.status.Hide()
	keys := make([]string, len(settings))
	for i, s := range settings {
		keys[i] = s.Key
	}
	if !slices.Equal(keys, t.keys) {
		t.build(settings)
		return
	}
	for _, s := range settings {
		t.rows[s.Key].set(s)
	}
}

// build makes a card per group, in the order the groups first appear.
func (t *settingsTab) build(settings []admin.Setting) {
	t.keys = t.keys[:0]
	t.rows = map[string]*settingRow{}
	t.groups.RemoveAll()
	var order []string
	members := map[string][]fyne.CanvasObject{}
	for _, s := range settings {
		t.keys = append(t.keys, s.Key)
		g := settingGroup(s.Key)
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		r := newSettingRow(t, s)
		t.rows[s.Key] = r
		members[g] = append(members[g], r.name, r.body)
	}
	for _, g := range order {
		sub := g + ".*"
		if g == "" {
			sub = ""
		}
		t.groups.Add(widget.NewCard(groupTitle(g), sub, container.New(layout.NewFormLayout(), members[g]...)))
	}
	t.groups.Refresh()
	t.scroll.Refresh()
}

// settingGroup is the subsystem of a key: what comes before its first dot.
func settingGroup(key string) string {
	g, _, ok := strings.Cut(key, ".")
	if !ok {
		return ""
	}
	return g
}

// groupTitles name the subsystems people know by another name than their
// prefix; any other prefix is its own title.
var groupTitles = map[string]string{
	"":           "General",
	"tls":        "Certificates",
	"acme":       "Certificates from Let's Encrypt (ACME)",
	"mdns":       "LAN announcement",
	"limits":     "Limits",
	"c2s":        "Client connections",
	"contact":    "Contact addresses",
	"family":     "Family circle",
	"fast":       "Fast login (FAST tokens)",
	"federation": "Federation",
	"linklocal":  "LAN chat without accounts",
	"mam":        "Message archive",
	"muc":        "Chat rooms",
	"backup":     "Backups",
	"components": "Bots and gateways (external components)",
	"admin":      "Administrators",
	"upload":     "Shared files (HTTP upload)",
	"http":       "Web (HTTPS listener)",
	"log":        "Log",
	"turn":       "Calls (STUN/TURN)",
}

func groupTitle(g string) string {
	if t, ok := groupTitles[g]; ok {
		return t
	}
	r, n := utf8.DecodeRuneInString(g)
	return string(unicode.ToUpper(r)) + strings.ReplaceAll(g[n:], "_", " ")
}

// settingRow is one setting: its name, its widget, its help and default,
// and what became of the last change.
type settingRow struct {
	t    *settingsTab
	s    admin.Setting // as last loaded (or saved)
	name fyne.CanvasObject
	body fyne.CanvasObject // the field, the help, the result

	check *widget.Check  // bool
	pick  *widget.Select // enum
	entry *widget.Entry  // the others
	save  *widget.Button // entries only
	clear *widget.Button // secrets only: forget the one stored

	result   *widget.Label // the error, or "saved"
	updating bool          // the widget is being set from the server
	saving   bool
}

func newSettingRow(t *settingsTab, s admin.Setting) *settingRow {
	r := &settingRow{t: t, s: s}
	r.name = widget.NewLabelWithStyle(s.Key, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	help := widget.NewLabel(settingHelp(s))
	help.Wrapping = fyne.TextWrapWord
	help.SizeName = theme.SizeNameCaptionText
	r.result = widget.NewLabel("")
	r.result.Wrapping = fyne.TextWrapWord
	r.result.Hide()

	var field fyne.CanvasObject
	switch {
	case s.Kind == "bool":
		r.check = widget.NewCheck("on", func(on bool) {
			if !r.updating {
				r.store(fmt.Sprint(on))
			}
		})
		field = r.check
	case s.Kind == "enum" && len(s.Enum) > 0:
		r.pick = widget.NewSelect(s.Enum, func(v string) {
			if !r.updating {
				r.store(v)
			}
		})
		field = r.pick
	default:
		if s.Secret {
			r.entry = widget.NewPasswordEntry()
		} else {
			r.entry = widget.NewEntry()
		}
		r.entry.OnChanged = func(string) { r.validate() }
		r.entry.OnSubmitted = func(string) {
			if !r.save.Disabled() {
				r.store(r.entry.Text)
			}
		}
		r.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), func() { r.store(r.entry.Text) })
		r.save.Disable()
		buttons := fyne.CanvasObject(r.save)
		if s.Secret {
			r.clear = widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() {
				dialog.ShowCustomConfirm("Remove "+s.Key+"?", "Remove", "Keep it",
					wrapped("Hearth forgets the value stored for "+s.Key+"; what needs it stops working until a new one is saved."),
					func(ok bool) {
						if ok {
							r.store("")
						}
					}, t.u.win)
			})
			buttons = container.NewHBox(r.save, r.clear)
		} else {
			r.entry.SetText(s.Value)
		}
		field = container.NewBorder(nil, nil, nil, buttons, r.entry)
	}
	r.set(s)
	r.body = container.NewVBox(field, help, r.result)
	return r
}

// settingHelp is the help line: what the setting does, its default, and
// when a change applies.
func settingHelp(s admin.Setting) string {
	help := strings.TrimSpace(s.Help)
	if help != "" {
		r, n := utf8.DecodeRuneInString(help)
		help = string(unicode.ToUpper(r)) + help[n:]
		if !strings.HasSuffix(help, ".") {
			help += "."
		}
	}
	parts := []string{help}
	switch {
	case s.Secret:
	case s.Default == "":
		parts = append(parts, "Default: none.")
	default:
		parts = append(parts, "Default: "+s.Default+".")
	}
	if s.Restart {
		parts = append(parts, "A change takes effect when Hearth starts again.")
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// set shows the server's value. An entry the person is editing keeps what
// they typed.
func (r *settingRow) set(s admin.Setting) {
	old := r.s.Value
	r.s = s
	r.updating = true
	defer func() { r.updating = false }()
	switch {
	case r.check != nil:
		r.check.SetChecked(s.Value == "true")
	case r.pick != nil:
		r.pick.SetSelected(s.Value)
	case s.Secret:
		if s.Value == admin.SecretShown {
			r.entry.SetPlaceHolder("(set) type a new one to replace it")
			r.clear.Enable()
		} else {
			r.entry.SetPlaceHolder("(not set)")
			r.clear.Disable()
		}
	default:
		if r.entry.Text == old || r.entry.Text == s.Value {
			r.entry.SetText(s.Value)
		}
		r.entry.SetPlaceHolder("(none)")
	}
	if r.entry != nil {
		r.validate()
	}
}

// validate checks what the entry holds as it is typed, and offers to save
// it when it is a good new value.
func (r *settingRow) validate() {
	text := r.entry.Text
	unchanged := text == r.s.Value || r.s.Secret && text == ""
	if r.updating && unchanged {
		return // keep the result of the last save on show
	}
	if unchanged {
		if r.result.Importance == widget.DangerImportance {
			r.showResult("", widget.MediumImportance) // back to the stored value
		}
		r.save.Disable()
		return
	}
	if _, err := admin.CheckSetting(r.s.Key, text); err != nil {
		r.showResult(plainSettingError(r.s.Key, err), widget.DangerImportance)
		r.save.Disable()
		return
	}
	r.showResult("", widget.MediumImportance)
	if r.saving {
		r.save.Disable()
	} else {
		r.save.Enable()
	}
}

// store saves value in the background and shows the outcome next to the
// field: the reason for a refusal, or whether a restart is needed.
func (r *settingRow) store(value string) {
	if r.saving {
		return
	}
	r.saving = true
	if r.save != nil {
		r.save.Disable()
	}
	key := r.s.Key
	r.t.u.call(func(ctx context.Context) func() {
		restart, err := r.t.u.api.SetSetting(ctx, key, value)
		return func() {
			r.saving = false
			if err != nil {
				r.showResult(plainSettingError(key, err), widget.DangerImportance)
				// A check box or list goes back to the stored value.
				r.set(r.s)
				return
			}
			switch {
			case restart:
				r.showResult("Saved. Restart Hearth for this to take effect.", widget.WarningImportance)
			default:
				r.showResult("Saved and applied.", widget.SuccessImportance)
			}
			if r.entry != nil {
				if r.s.Secret {
					r.entry.SetText("")
				} else {
					// The server's form of the value replaces what was
					// typed when the settings event reloads the row.
					r.s.Value = value
				}
				r.validate()
			}
		}
	})
}

func (r *settingRow) showResult(text string, importance widget.Importance) {
	r.result.SetText(text)
	r.result.Importance = importance
	shown(text != "", r.result)
	r.result.Refresh()
}

// plainSettingError says in plain words why a value was refused: the
// reason the registry gives, without the key (the field shows it) or the
// error's plumbing.
func plainSettingError(key string, err error) string {
	if errors.Is(err, admin.ErrNotApplied) {
		// Stored: the message says what is missing and how to retry.
		msg := err.Error()
		r, n := utf8.DecodeRuneInString(msg)
		return string(unicode.ToUpper(r)) + msg[n:] + "."
	}
	if !errors.Is(err, admin.ErrInvalid) {
		return describe("not saved", err).Error()
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "set ")
	msg = strings.TrimPrefix(msg, key+": ")
	msg = strings.TrimSuffix(msg, ": "+admin.ErrInvalid.Error())
	if before, least, ok := strings.Cut(msg, " is below the minimum "); ok {
		msg = before + " is too small: the least is " + least
	}
	msg = strings.Replace(msg, "unknown setting (hearth config list shows them all)", "this version of Hearth has no such setting", 1)
	if msg == "" {
		return "This value cannot be used."
	}
	r, n := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[n:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, ")") {
		msg += "."
	}
	return msg
}
