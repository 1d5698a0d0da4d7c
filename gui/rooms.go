package gui

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// roomsTab is the server's chat rooms (XEP-0045): each with how many are
// in it; the one selected with its configuration, its occupants and who
// has a place in it, a form to change someone's place and a button that
// destroys it (after asking). It reloads on the server's events and,
// since people come and go without one, every few seconds while in sight.
type roomsTab struct {
	u       *UI
	content fyne.CanvasObject
	load    *reloader

	state *widget.Label // why there are no rooms, or ""
	list  *fyne.Container
	// selected is the selected room's JID, set on the UI goroutine and
	// read by loads.
	mu       sync.Mutex
	selected string

	detail       *widget.Card
	config       *widget.Label
	occupants    *fyne.Container
	affiliations *fyne.Container
	who          *widget.Entry
	affiliation  *widget.Select
	set          *widget.Button
	destroy      *widget.Button
	result       *widget.Label // why the last change failed, or ""
}

func newRoomsTab(u *UI) *roomsTab {
	t := &roomsTab{u: u}
	t.load = &reloader{u: u, load: t.loadRooms}
	t.state = wrapped("Loading…")
	t.list = container.NewVBox()
	t.config = wrapped("")
	t.occupants = container.NewVBox()
	t.affiliations = container.NewVBox()
	t.who = widget.NewEntry()
	t.who.SetPlaceHolder("an account's name, or an address")
	t.affiliation = widget.NewSelect(admin.Affiliations, nil)
	t.affiliation.SetSelected("member")
	t.set = widget.NewButton("Set", t.setAffiliation)
	t.destroy = widget.NewButton("Destroy room…", t.confirmDestroy)
	t.destroy.Importance = widget.DangerImportance
	t.result = wrapped("")
	t.result.Importance = widget.DangerImportance
	t.result.Hide()
	form := container.NewBorder(nil, nil, nil, container.NewHBox(t.affiliation, t.set), t.who)
	t.detail = widget.NewCard("", "", container.NewVBox(
		t.config,
		widget.NewLabelWithStyle("In the room now", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.occupants,
		widget.NewLabelWithStyle("Owners, admins, members, banned", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		t.affiliations,
		form,
		t.result,
		container.NewHBox(t.destroy),
	))
	t.detail.Hide()
	intro := widget.NewCard("Chat rooms", "", container.NewVBox(
		wrapped("Group chats on this server. The family room (muc.family_room, on the Settings tab) has every "+
			"account as a member; their apps join it by themselves. Select a room to see who is in it."),
		t.state,
		t.list,
	))
	t.content = container.NewVScroll(container.NewGridWithColumns(2, container.NewVBox(intro), container.NewVBox(t.detail)))
	return t
}

// handle follows the server's events: rooms changed, the setting.
func (t *roomsTab) handle(ev admin.Event) {
	switch ev.Kind {
	case admin.EventRooms, admin.EventUsers:
		t.load.trigger()
	case admin.EventSettings:
		if ev.Key == "" || strings.HasPrefix(ev.Key, "muc.") {
			t.load.trigger()
		}
	}
}

// roomView is what the tab shows of the server's rooms.
type roomView struct {
	rooms     []admin.RoomInfo
	occupants []admin.Occupant
	affs      []admin.RoomAffiliation
	err       error
}

func (t *roomsTab) loadRooms(ctx context.Context) func() {
	sel := t.selection()
	var v roomView
	v.rooms, v.err = t.u.api.Rooms(ctx)
	if v.err == nil && sel != "" {
		v.occupants, v.err = t.u.api.Occupants(ctx, sel)
		if v.err == nil {
			v.affs, v.err = t.u.api.RoomAffiliations(ctx, sel)
		}
	}
	return func() { t.show(sel, v) }
}

// selection is the selected room's JID, or "".
func (t *roomsTab) selection() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.selected
}

// show applies a load; sel is the room selected when it began.
func (t *roomsTab) show(sel string, v roomView) {
	if v.err != nil && sel == "" {
		t.state.SetText(describe("Cannot read the chat rooms", v.err).Error())
		t.state.Importance = widget.DangerImportance
		t.state.Show()
		t.state.Refresh()
		t.list.RemoveAll()
		t.detail.Hide()
		return
	}
	t.state.Importance = widget.MediumImportance
	if len(v.rooms) == 0 {
		t.state.SetText("No rooms yet.")
		t.state.Show()
	} else {
		t.state.Hide()
	}
	t.list.RemoveAll()
	var info *admin.RoomInfo
	for i, r := range v.rooms {
		label := fmt.Sprintf("%s: %s", r.JID, people(r.Occupants))
		if r.Name != "" {
			label = r.Name + " (" + label + ")"
		}
		b := widget.NewButton(label, func() { t.selectRoom(r.JID) })
		b.Alignment = widget.ButtonAlignLeading
		if r.JID == sel {
			b.Importance = widget.HighImportance
			info = &v.rooms[i]
		}
		t.list.Add(b)
	}
	if sel != t.selection() {
		// Another room was selected meanwhile: its load follows.
		return
	}
	if info == nil {
		// None is selected, or the selected one is gone.
		t.mu.Lock()
		t.selected = ""
		t.mu.Unlock()
		t.detail.Hide()
		t.content.Refresh()
		return
	}
	if v.err != nil {
		t.config.SetText(describe("Cannot read "+sel, v.err).Error())
		t.detail.Show()
		return
	}
	t.detail.SetTitle(info.JID)
	t.detail.SetSubTitle(info.Name)
	cfg := roomWords(*info)
	if info.Subject != "" {
		cfg += "\nSubject: " + info.Subject
	}
	if info.Description != "" {
		cfg += "\n" + info.Description
	}
	t.config.SetText(cfg)
	t.occupants.RemoveAll()
	for _, o := range v.occupants {
		line := o.Nick + " (" + o.JID + "), " + o.Role
		if o.Affiliation != "" && o.Affiliation != "none" {
			line += ", " + o.Affiliation
		}
		t.occupants.Add(wrapped(line))
	}
	if len(v.occupants) == 0 {
		t.occupants.Add(wrapped("No one."))
	}
	t.affiliations.RemoveAll()
	for _, a := range v.affs {
		t.affiliations.Add(wrapped(a.JID + ": " + a.Affiliation))
	}
	if len(v.affs) == 0 {
		t.affiliations.Add(wrapped("No one."))
	}
	t.detail.Show()
	t.content.Refresh()
}

// people says how many are in a room.
func people(n int) string {
	switch n {
	case 0:
		return "empty"
	case 1:
		return "1 person in it"
	}
	return fmt.Sprintf("%d people in it", n)
}

// roomWords says a room's configuration in words.
func roomWords(r admin.RoomInfo) string {
	var w []string
	if r.Persistent {
		w = append(w, "Kept when empty")
	} else {
		w = append(w, "Gone when empty")
	}
	if r.Public {
		w = append(w, "listed")
	} else {
		w = append(w, "not listed")
	}
	if r.MembersOnly {
		w = append(w, "members only")
	} else {
		w = append(w, "anyone may join")
	}
	if r.Moderated {
		w = append(w, "moderated")
	}
	if r.PasswordProtected {
		w = append(w, "password")
	}
	if r.Archived {
		w = append(w, "history kept")
	}
	return strings.Join(w, ", ") + "."
}

// selectRoom shows a room's details.
func (t *roomsTab) selectRoom(jid string) {
	t.mu.Lock()
	t.selected = jid
	t.mu.Unlock()
	t.result.Hide()
	t.load.trigger()
}

// setAffiliation gives the address in the form the chosen place in the
// selected room.
func (t *roomsTab) setAffiliation() {
	room, who, aff := t.selection(), strings.TrimSpace(t.who.Text), t.affiliation.Selected
	if room == "" {
		return
	}
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.SetRoomAffiliation(ctx, room, who, aff)
		return func() {
			if err != nil {
				t.result.SetText(describe("Cannot change "+who+" in "+room, err).Error())
				t.result.Show()
			} else {
				t.result.Hide()
				t.who.SetText("")
			}
			t.load.trigger()
		}
	})
}

// confirmDestroy asks before destroying the selected room, with the
// reason and the room to go to instead that its occupants are told.
func (t *roomsTab) confirmDestroy() {
	room := t.selection()
	if room == "" {
		return
	}
	reason := widget.NewEntry()
	reason.SetPlaceHolder("told to those in the room (optional)")
	alternate := widget.NewEntry()
	alternate.SetPlaceHolder("a room's address (optional)")
	d := dialog.NewForm("Destroy "+room+"?", "Destroy", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Reason", reason),
		widget.NewFormItem("Go to instead", alternate),
	}, func(ok bool) {
		if !ok {
			return
		}
		r, alt := reason.Text, alternate.Text
		t.u.call(func(ctx context.Context) func() {
			err := t.u.api.DestroyRoom(ctx, room, r, alt)
			return func() {
				if err != nil {
					t.u.showError(describe("Cannot destroy "+room, err))
				}
				t.load.trigger()
			}
		})
	}, t.u.win)
	d.Resize(fyne.NewSize(480, 0))
	d.Show()
}
