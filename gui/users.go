package gui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// usersTab lists the accounts and adds, deletes, disables and resets them.
type usersTab struct {
	u       *UI
	content fyne.CanvasObject

	domain string
	users  []admin.User

	name   *widget.Entry
	suffix *widget.Label // "@domain"
	add    *widget.Button
	adding bool
	// inviteButton makes an invitation link (invite.go).
	inviteButton *widget.Button

	summary *widget.Label
	list    *widget.List
	empty   *widget.Label
}

func newUsersTab(u *UI) *usersTab {
	t := &usersTab{u: u}

	t.name = widget.NewEntry()
	t.name.SetPlaceHolder("user name, for example alice")
	t.name.OnChanged = func(string) { t.updateAdd() }
	t.name.OnSubmitted = func(string) { t.addUser() }
	t.suffix = widget.NewLabel("@…")
	t.add = widget.NewButtonWithIcon("Add user", theme.ContentAddIcon(), t.addUser)
	t.add.Importance = widget.HighImportance
	t.add.Disable()
	t.inviteButton = widget.NewButtonWithIcon("Invite…", theme.MailSendIcon(), t.invite)
	form := container.NewBorder(nil, nil, key("New account"), container.NewHBox(t.add, t.inviteButton),
		container.NewBorder(nil, nil, nil, t.suffix, t.name))
	hint := wrapped("Make one account for each family member. Hearth generates a strong password and shows it once, to copy into their app. Or invite them: they get a link and choose their own name and password.")

	t.summary = widget.NewLabel("Loading…")
	t.list = widget.NewList(
		func() int { return len(t.users) },
		func() fyne.CanvasObject { return newUserRow(t) },
		func(i widget.ListItemID, o fyne.CanvasObject) { o.(*userRow).set(t.users[i]) },
	)
	t.empty = widget.NewLabelWithStyle("No accounts yet: add one above.", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	t.empty.Hide()

	top := container.NewVBox(hint, form, widget.NewSeparator(), t.summary)
	t.content = container.NewBorder(top, nil, nil, nil, container.NewStack(t.list, t.empty))
	return t
}

func (t *usersTab) setDomain(domain string) {
	t.domain = domain
	t.suffix.SetText("@" + domain)
	t.updateAdd()
}

func (t *usersTab) updateAdd() {
	if t.domain == "" || t.adding || strings.TrimSpace(t.name.Text) == "" {
		t.add.Disable()
		return
	}
	t.add.Enable()
}

func (t *usersTab) load(ctx context.Context) func() {
	users, err := t.u.api.Users(ctx)
	return func() { t.setUsers(users, err) }
}

func (t *usersTab) setUsers(users []admin.User, err error) {
	if err != nil {
		t.summary.SetText(describe("Cannot list the accounts", err).Error())
		return
	}
	slices.SortFunc(users, func(a, b admin.User) int { return strings.Compare(a.JID, b.JID) })
	t.users = users
	online := 0
	for _, u := range users {
		if u.Sessions > 0 {
			online++
		}
	}
	t.summary.SetText(fmt.Sprintf("%s, %d online", plural(len(users), "account", "accounts"), online))
	t.empty.Hidden = len(users) > 0
	t.empty.Refresh()
	t.list.Refresh()
}

// jid completes a user name typed in the form with the domain.
func (t *usersTab) jid(name string) string {
	name = strings.TrimSpace(name)
	if strings.Contains(name, "@") {
		return name
	}
	return name + "@" + t.domain
}

func (t *usersTab) addUser() {
	if t.add.Disabled() {
		return
	}
	jid := t.jid(t.name.Text)
	password, err := admin.NewPassword()
	if err != nil {
		t.u.showError(err)
		return
	}
	t.adding = true
	t.updateAdd()
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.AddUser(ctx, jid, password)
		return func() {
			t.adding = false
			if err != nil {
				t.updateAdd()
				t.u.showError(userError("Cannot add "+jid, err))
				return
			}
			t.name.SetText("") // also updates the button
			t.u.accounts.trigger()
			t.showPassword("Account created", jid, password)
		}
	})
}

func (t *usersTab) confirmDelete(jid string) {
	d := dialog.NewConfirm("Delete account?",
		fmt.Sprintf("Delete %s?\nThe account and everything stored for it are removed,\nand its devices are signed out. This cannot be undone.", jid),
		func(ok bool) {
			if !ok {
				return
			}
			t.u.call(func(ctx context.Context) func() {
				err := t.u.api.DeleteUser(ctx, jid)
				return func() {
					if err != nil {
						t.u.showError(userError("Cannot delete "+jid, err))
					}
					t.u.accounts.trigger()
				}
			})
		}, t.u.win)
	d.SetConfirmText("Delete")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

func (t *usersTab) confirmReset(jid string) {
	d := dialog.NewConfirm("Reset password?",
		fmt.Sprintf("Give %s a new password?\nThe old one stops working: each of its devices\nmust be given the new one.", jid),
		func(ok bool) {
			if !ok {
				return
			}
			password, err := admin.NewPassword()
			if err != nil {
				t.u.showError(err)
				return
			}
			t.u.call(func(ctx context.Context) func() {
				err := t.u.api.SetPassword(ctx, jid, password)
				return func() {
					if err != nil {
						t.u.showError(userError("Cannot reset the password of "+jid, err))
						return
					}
					t.showPassword("Password reset", jid, password)
				}
			})
		}, t.u.win)
	d.SetConfirmText("Reset")
	d.SetDismissText("Cancel")
	d.Show()
}

func (t *usersTab) setDisabled(jid string, disabled bool) {
	t.u.call(func(ctx context.Context) func() {
		err := t.u.api.SetDisabled(ctx, jid, disabled)
		return func() {
			if err != nil {
				verb := "enable"
				if disabled {
					verb = "disable"
				}
				t.u.showError(userError("Cannot "+verb+" "+jid, err))
			}
			t.u.accounts.trigger()
		}
	})
}

// showPassword shows a new password, once: Hearth stores only keys derived
// from it and cannot show it again.
func (t *usersTab) showPassword(title, jid, password string) {
	account := widget.NewLabelWithStyle(jid, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	account.Selectable = true
	secret := widget.NewLabelWithStyle(password, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	secret.Selectable = true
	var copyButton *widget.Button
	copyButton = widget.NewButtonWithIcon("Copy password", theme.ContentCopyIcon(), func() {
		t.u.app.Clipboard().SetContent(password)
		copyButton.SetText("Copied")
		copyButton.SetIcon(theme.ConfirmIcon())
	})
	name, _, _ := strings.Cut(jid, "@")
	var d *dialog.CustomDialog
	sheet := widget.NewButtonWithIcon("Connect a device…", theme.ComputerIcon(), func() {
		d.Hide()
		t.showConnect(jid, password)
	})
	content := container.NewVBox(
		wrapped(fmt.Sprintf("Give these to %s to type into their XMPP app. The password is shown only this once: Hearth keeps no copy it could show again.", name)),
		container.New(layout.NewFormLayout(),
			key("Account"), account,
			key("Password"), secret,
		),
		container.NewHBox(layout.NewSpacer(), copyButton, sheet),
	)
	d = dialog.NewCustom(title, "Done", content, t.u.win)
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
}

// userError says what went wrong with an account in words.
func userError(what string, err error) error {
	switch {
	case errors.Is(err, admin.ErrExists):
		return fmt.Errorf("%s: that account already exists", what)
	case errors.Is(err, admin.ErrNotFound):
		return fmt.Errorf("%s: there is no such account", what)
	case errors.Is(err, admin.ErrInvalid):
		return fmt.Errorf("%s: %w", what, err)
	}
	return describe(what, err)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// userRow is one account in the list; the list reuses rows, so the
// buttons act on whichever user the row shows at the time.
type userRow struct {
	widget.BaseWidget
	t    *usersTab
	user admin.User

	dot    *widget.Icon
	jid    *widget.Label
	state  *widget.Label
	reset  *widget.Button
	toggle *widget.Button
	del    *widget.Button
	sheet  *widget.Button
	box    *fyne.Container
}

func newUserRow(t *usersTab) *userRow {
	r := &userRow{t: t}
	r.dot = widget.NewIcon(offlineDot())
	r.jid = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.jid.Truncation = fyne.TextTruncateEllipsis
	r.state = widget.NewLabel("")
	r.reset = widget.NewButtonWithIcon("Reset password", theme.ViewRefreshIcon(), func() { t.confirmReset(r.user.JID) })
	r.toggle = widget.NewButton("Disable", func() { t.setDisabled(r.user.JID, !r.user.Disabled) })
	r.del = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), func() { t.confirmDelete(r.user.JID) })
	r.sheet = widget.NewButtonWithIcon("Connect a device", theme.ComputerIcon(), func() { t.showConnect(r.user.JID, "") })
	for _, b := range []*widget.Button{r.sheet, r.reset, r.toggle, r.del} {
		b.Importance = widget.LowImportance
	}
	// The state shares the middle with the name: a row's size is fixed
	// once laid out, so nothing whose width changes sits with the buttons.
	r.box = container.NewBorder(nil, nil,
		r.dot,
		container.NewHBox(r.sheet, r.reset, r.toggle, r.del),
		container.NewGridWithColumns(2, r.jid, r.state),
	)
	r.ExtendBaseWidget(r)
	return r
}

// The dots are made when used: theme icons need the running app.
func onlineDot() fyne.Resource {
	return theme.NewColoredResource(theme.MediaRecordIcon(), theme.ColorNameSuccess)
}

func offlineDot() fyne.Resource {
	return theme.NewColoredResource(theme.MediaRecordIcon(), theme.ColorNameDisabled)
}

func disabledDot() fyne.Resource {
	return theme.NewColoredResource(theme.CancelIcon(), theme.ColorNameError)
}

func (r *userRow) set(user admin.User) {
	r.user = user
	r.jid.SetText(user.JID)
	var state string
	switch {
	case user.Sessions == 1:
		state = "online on 1 device"
	case user.Sessions > 1:
		state = fmt.Sprintf("online on %d devices", user.Sessions)
	default:
		state = "offline"
	}
	switch {
	case user.Disabled:
		r.dot.SetResource(disabledDot())
		r.state.SetText("disabled, " + state)
		r.toggle.SetText("Enable")
	case user.Sessions > 0:
		r.dot.SetResource(onlineDot())
		r.state.SetText(state)
		r.toggle.SetText("Disable")
	default:
		r.dot.SetResource(offlineDot())
		r.state.SetText(state)
		r.toggle.SetText("Disable")
	}
}

func (r *userRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.box)
}
