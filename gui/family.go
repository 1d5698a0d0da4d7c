package gui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// The family settings' keys (server/settings, which the window sees only
// through the admin API).
const (
	keyFamilyCircle = "family.circle"
	keyFamilyGroup  = "family.group"
)

// familyTab is the family circle's switch and a contact list editor for
// any account: who is on it, who sees whom in words, and adding,
// renaming, grouping, removing and "see each other". The server pushes
// every change to the account's online devices.
type familyTab struct {
	u       *UI
	content fyne.CanvasObject

	settings *reloader
	accounts *reloader
	roster   *reloader

	circle *widget.Check
	// showing is true while the check shows the stored setting, so
	// that its OnChanged knows no one clicked.
	showing    bool
	group      *widget.Entry
	groupShown string // the stored group name, as last loaded
	saveGroup  *widget.Button
	circleNote *widget.Label

	picker *widget.Select
	// mu guards user, which the roster's background load reads.
	mu   sync.Mutex
	user string // bare JID of the account shown, or ""

	items   []admin.RosterItem
	summary *widget.Label
	list    *widget.List

	contact *widget.Entry
	name    *widget.Entry
	groups  *widget.Entry
	add     *widget.Button

	// The edit dialog's fields, while it is open.
	editName, editGroups *widget.Entry
}

func newFamilyTab(u *UI) *familyTab {
	t := &familyTab{u: u}
	t.settings = &reloader{u: u, load: t.loadSettings}
	t.accounts = &reloader{u: u, load: t.loadUsers}
	t.roster = &reloader{u: u, load: t.loadRoster}

	t.circle = widget.NewCheck("Everyone is everyone's contact", t.setCircle)
	t.circle.Disable() // until the setting is loaded
	t.group = widget.NewEntry()
	t.group.SetPlaceHolder("no group")
	t.group.OnChanged = func(string) { t.updateSaveGroup() }
	t.group.OnSubmitted = func(string) { t.renameGroup() }
	t.saveGroup = widget.NewButton("Rename group", t.renameGroup)
	t.saveGroup.Disable()
	t.circleNote = wrapped("Loading…")
	circle := widget.NewCard("Family circle", "", container.NewVBox(
		wrapped("With the family circle on, every account has every other as a contact, and each sees when the others are online: "+
			"new accounts join everyone, deleted ones leave. Turning it off leaves everyone's contacts as they are."),
		t.circle,
		container.NewBorder(nil, nil, key("Contact group"), t.saveGroup, t.group),
		t.circleNote,
	))

	t.picker = widget.NewSelect(nil, t.pick)
	t.picker.PlaceHolder = "pick an account"
	t.summary = widget.NewLabel("Pick an account to see its contacts.")
	t.list = widget.NewList(
		func() int { return len(t.items) },
		func() fyne.CanvasObject { return newRosterRow(t) },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*rosterRow).set(t.shownUser(), t.items[i]) },
	)

	t.contact = widget.NewEntry()
	t.contact.SetPlaceHolder("grandma, or grandma@example.org")
	t.contact.OnChanged = func(string) { t.updateAdd() }
	t.contact.OnSubmitted = func(string) { t.addContact() }
	t.name = widget.NewEntry()
	t.name.SetPlaceHolder("name (optional)")
	t.groups = widget.NewEntry()
	t.groups.SetPlaceHolder("groups, separated by commas")
	t.add = widget.NewButtonWithIcon("Add contact", theme.ContentAddIcon(), t.addContact)
	t.add.Disable()
	addForm := container.NewBorder(nil, nil, key("New contact"), t.add,
		container.NewGridWithColumns(3, t.contact, t.name, t.groups))

	top := container.NewVBox(circle,
		container.NewBorder(nil, nil, key("Contacts of"), nil, t.picker),
		t.summary)
	t.content = container.NewBorder(top, addForm, nil, nil, t.list)
	return t
}

// handle follows the server's events: the family settings, accounts
// coming and going, and the shown account's roster.
func (t *familyTab) handle(ev admin.Event) {
	switch ev.Kind {
	case admin.EventSettings:
		if ev.Key == keyFamilyCircle || ev.Key == keyFamilyGroup {
			t.settings.trigger()
		}
	case admin.EventUsers:
		t.accounts.trigger()
	case admin.EventRoster:
		if ev.JID == t.shownUser() {
			t.roster.trigger()
		}
	}
}

func (t *familyTab) reload() {
	t.settings.trigger()
	t.accounts.trigger()
	t.roster.trigger()
}

func (t *familyTab) shownUser() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.user
}

// The family circle.

func (t *familyTab) loadSettings(ctx context.Context) func() {
	all, err := t.u.api.Settings(ctx)
	return func() {
		if err != nil {
			t.circleNote.SetText(describe("Cannot read the family circle's setting", err).Error())
			return
		}
		for _, s := range all {
			switch s.Key {
			case keyFamilyCircle:
				t.showing = true
				t.circle.SetChecked(s.Value == "true")
				t.showing = false
				t.circle.Enable()
			case keyFamilyGroup:
				// A name being typed is kept.
				if t.group.Text == t.groupShown {
					t.group.SetText(s.Value)
				}
				t.groupShown = s.Value
			}
		}
		t.updateSaveGroup()
		t.showCircleNote()
	}
}

func (t *familyTab) showCircleNote() {
	switch {
	case !t.circle.Checked:
		t.circleNote.SetText("Off: contacts are only those each person (or you, below) added.")
	case t.groupShown == "":
		t.circleNote.SetText("On: everyone sees everyone.")
	default:
		t.circleNote.SetText(fmt.Sprintf("On: everyone sees everyone, in the group %q.", t.groupShown))
	}
}

// setCircle is the check's OnChanged: a person switched the circle.
func (t *familyTab) setCircle(on bool) {
	if t.showing {
		return
	}
	t.circle.Disable()
	t.circleNote.SetText("Saving…")
	t.u.call(func(ctx context.Context) func() {
		_, err := t.u.api.SetSetting(ctx, keyFamilyCircle, strconv.FormatBool(on))
		return func() {
			t.circle.Enable()
			if err != nil {
				t.u.showError(familyError(keyFamilyCircle, "Cannot switch the family circle", err))
			}
			t.settings.trigger() // shows what is stored, either way
			t.roster.trigger()
		}
	})
}

func (t *familyTab) updateSaveGroup() {
	if strings.TrimSpace(t.group.Text) == t.groupShown {
		t.saveGroup.Disable()
		return
	}
	t.saveGroup.Enable()
}

func (t *familyTab) renameGroup() {
	if t.saveGroup.Disabled() {
		return
	}
	name := strings.TrimSpace(t.group.Text)
	t.saveGroup.Disable()
	t.u.call(func(ctx context.Context) func() {
		_, err := t.u.api.SetSetting(ctx, keyFamilyGroup, name)
		return func() {
			if err != nil {
				t.u.showError(familyError(keyFamilyGroup, "Cannot rename the family group", err))
			}
			t.settings.trigger()
		}
	})
}

// familyError is what the window says when a family setting failed: a
// value stored but a circle not completed says so itself (and how to
// retry); anything else was not saved.
func familyError(key, what string, err error) error {
	if errors.Is(err, admin.ErrNotApplied) {
		return errors.New(plainSettingError(key, err))
	}
	return describe(what, err)
}

// The account picker.

func (t *familyTab) loadUsers(ctx context.Context) func() {
	users, err := t.u.api.Users(ctx)
	return func() {
		if err != nil {
			t.summary.SetText(describe("Cannot list the accounts", err).Error())
			return
		}
		jids := make([]string, 0, len(users))
		for _, u := range users {
			jids = append(jids, u.JID)
		}
		slices.Sort(jids)
		t.picker.SetOptions(jids)
		switch user := t.shownUser(); {
		case slices.Contains(jids, user):
		case len(jids) > 0:
			t.picker.SetSelected(jids[0]) // calls pick
		default:
			t.picker.ClearSelected()
			t.pick("")
		}
	}
}

// pick shows the roster of the account jid ("" for none).
func (t *familyTab) pick(jid string) {
	t.mu.Lock()
	changed := t.user != jid
	t.user = jid
	t.mu.Unlock()
	if !changed {
		return
	}
	t.items = nil
	t.list.Refresh()
	t.updateAdd()
	if jid == "" {
		t.summary.SetText("No accounts yet: add one in the Users tab.")
		return
	}
	t.summary.SetText("Loading…")
	t.roster.trigger()
}

// The roster of the picked account.

func (t *familyTab) loadRoster(ctx context.Context) func() {
	user := t.shownUser()
	if user == "" {
		return func() {}
	}
	items, err := t.u.api.Roster(ctx, user)
	return func() {
		if user != t.shownUser() {
			return // another account was picked meanwhile; its load follows
		}
		if err != nil {
			t.summary.SetText(describe("Cannot read the contacts of "+user, err).Error())
			return
		}
		t.items = items
		if len(items) == 0 {
			t.summary.SetText(localpart(user) + " has no contacts yet.")
		} else {
			t.summary.SetText(fmt.Sprintf("%s has %s.", localpart(user), plural(len(items), "contact", "contacts")))
		}
		t.list.Refresh()
	}
}

func (t *familyTab) updateAdd() {
	if t.shownUser() == "" || strings.TrimSpace(t.contact.Text) == "" {
		t.add.Disable()
		return
	}
	t.add.Enable()
}

func (t *familyTab) addContact() {
	user := t.shownUser()
	if t.add.Disabled() || user == "" {
		return
	}
	c := strings.TrimSpace(t.contact.Text)
	if !strings.Contains(c, "@") {
		c += "@" + domainOf(user) // a name alone is an account here
	}
	item := admin.RosterItem{JID: c, Name: strings.TrimSpace(t.name.Text), Groups: splitGroups(t.groups.Text)}
	t.add.Disable()
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.AddRosterItem(ctx, user, item)
		return func() {
			if err != nil {
				t.updateAdd()
				t.u.showError(userError("Cannot add "+c+" to the contacts of "+localpart(user), err))
				return
			}
			for _, e := range []*widget.Entry{t.contact, t.name, t.groups} {
				e.SetText("")
			}
			t.roster.trigger()
		}
	})
}

// edit asks for a contact's new name and groups.
func (t *familyTab) edit(user string, it admin.RosterItem) {
	t.editName = widget.NewEntry()
	t.editName.SetText(it.Name)
	t.editName.SetPlaceHolder("no name: the address is shown")
	t.editGroups = widget.NewEntry()
	t.editGroups.SetText(strings.Join(it.Groups, ", "))
	t.editGroups.SetPlaceHolder("groups, separated by commas")
	d := dialog.NewForm("Edit "+it.JID, "Save", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Name", t.editName),
		widget.NewFormItem("Groups", t.editGroups),
	}, func(ok bool) {
		if !ok {
			return
		}
		item := admin.RosterItem{JID: it.JID, Name: strings.TrimSpace(t.editName.Text), Groups: splitGroups(t.editGroups.Text)}
		t.u.call(func(ctx context.Context) func() {
			err := t.u.api.AddRosterItem(ctx, user, item)
			return func() {
				if err != nil {
					t.u.showError(userError("Cannot change "+it.JID, err))
				}
				t.roster.trigger()
			}
		})
	}, t.u.win)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}

// mutual makes the account and a contact of this server see each other.
func (t *familyTab) mutual(user string, it admin.RosterItem) {
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.MakeMutual(ctx, user, it.JID)
		return func() {
			if err != nil {
				t.u.showError(userError("Cannot make "+localpart(user)+" and "+it.JID+" see each other", err))
			}
			t.roster.trigger()
		}
	})
}

func (t *familyTab) confirmRemove(user string, it admin.RosterItem) {
	d := dialog.NewConfirm("Remove contact?",
		fmt.Sprintf("Remove %s from the contacts of %s?\nNeither will see the other online any more.", it.JID, localpart(user)),
		func(ok bool) {
			if !ok {
				return
			}
			t.u.call(func(ctx context.Context) func() {
				err := t.u.api.RemoveRosterItem(ctx, user, it.JID)
				return func() {
					if err != nil {
						t.u.showError(userError("Cannot remove "+it.JID, err))
					}
					t.roster.trigger()
				}
			})
		}, t.u.win)
	d.SetConfirmText("Remove")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

// seeing says in words who sees whom online (the subscription states of
// RFC 6121 3), for the account user and its contact it.
func seeing(user string, it admin.RosterItem) string {
	me, them := localpart(user), contactName(user, it)
	var s string
	switch it.Subscription {
	case "both":
		s = "both see each other"
	case "to":
		s = fmt.Sprintf("%s sees %s, not the other way", me, them)
	case "from":
		s = fmt.Sprintf("%s sees %s, not the other way", them, me)
	default:
		s = "neither sees the other"
	}
	if it.Ask {
		s += fmt.Sprintf("; %s asked to see %s, waiting for an answer", me, them)
	}
	return s
}

// contactName is how a contact is called: its name, else its localpart
// on this server, else its address.
func contactName(user string, it admin.RosterItem) string {
	switch {
	case it.Name != "":
		return it.Name
	case domainOf(it.JID) == domainOf(user) && localpart(it.JID) != "":
		return localpart(it.JID)
	}
	return it.JID
}

func localpart(jid string) string {
	l, _, _ := strings.Cut(jid, "@")
	return l
}

func domainOf(jid string) string {
	_, d, _ := strings.Cut(jid, "@")
	return d
}

// splitGroups reads group names separated by commas; blanks are dropped.
func splitGroups(s string) []string {
	var out []string
	for _, g := range strings.Split(s, ",") {
		if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// rosterRow is one contact in the list; the list reuses rows, so the
// buttons act on whichever contact the row shows at the time.
type rosterRow struct {
	widget.BaseWidget
	t    *familyTab
	user string
	item admin.RosterItem

	who    *widget.Label
	state  *widget.Label
	groups *widget.Label
	mutual *widget.Button
	remove *widget.Button
	box    *fyne.Container
}

func newRosterRow(t *familyTab) *rosterRow {
	r := &rosterRow{t: t}
	r.who = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.who.Truncation = fyne.TextTruncateEllipsis
	r.state = widget.NewLabel("")
	r.state.Truncation = fyne.TextTruncateEllipsis
	r.groups = widget.NewLabel("")
	r.groups.Truncation = fyne.TextTruncateEllipsis
	edit := widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), func() { t.edit(r.user, r.item) })
	r.mutual = widget.NewButtonWithIcon("See each other", theme.VisibilityIcon(), func() { t.mutual(r.user, r.item) })
	r.remove = widget.NewButtonWithIcon("Remove", theme.DeleteIcon(), func() { t.confirmRemove(r.user, r.item) })
	for _, b := range []*widget.Button{edit, r.mutual, r.remove} {
		b.Importance = widget.LowImportance
	}
	r.box = container.NewBorder(nil, nil, nil,
		container.NewHBox(edit, r.mutual, r.remove),
		container.NewGridWithColumns(3, r.who, r.state, r.groups))
	r.ExtendBaseWidget(r)
	return r
}

func (r *rosterRow) set(user string, it admin.RosterItem) {
	r.user, r.item = user, it
	who := it.JID
	if it.Name != "" {
		who = it.Name + " (" + it.JID + ")"
	}
	r.who.SetText(who)
	r.state.SetText(seeing(user, it))
	if len(it.Groups) == 0 {
		r.groups.SetText("no group")
	} else {
		r.groups.SetText(strings.Join(it.Groups, ", "))
	}
	// Only two accounts of this server can be made to see each other
	// from here; a contact elsewhere must agree in its own app.
	if domainOf(it.JID) == domainOf(user) && (it.Subscription != "both" || it.Ask) {
		r.mutual.Enable()
	} else {
		r.mutual.Disable()
	}
}

func (r *rosterRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.box)
}
