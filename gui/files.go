package gui

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// filesTab is file sharing (XEP-0363): where files are served, the
// limits, each account's files and share of its quota, with buttons that
// delete an account's files or the expired ones. Uploads send no event:
// it reloads when it comes into sight and every few seconds while in
// sight.
type filesTab struct {
	u       *UI
	content fyne.CanvasObject
	load    *reloader

	state  *widget.Label
	rows   *fyne.Container
	result *widget.Label
}

func newFilesTab(u *UI) *filesTab {
	t := &filesTab{u: u}
	t.load = &reloader{u: u, load: t.loadState}
	t.state = wrapped("Loading…")
	t.rows = container.NewVBox()
	t.result = wrapped("")
	t.result.Hide()
	purge := widget.NewButton("Delete expired files now", func() { t.purge("", true) })
	intro := widget.NewCard("Shared files", "", container.NewVBox(
		wrapped("Photos and files people send in chats are kept on this server and fetched by their URL. "+
			"Old files are deleted on their own (upload.expiry); the limits are on the Settings tab (upload.*)."),
		t.state, container.NewHBox(purge), t.result,
	))
	t.content = container.NewVScroll(container.NewVBox(intro, widget.NewCard("Per account", "", t.rows)))
	return t
}

// handle follows the server's events: accounts and the upload settings.
func (t *filesTab) handle(ev admin.Event) {
	switch ev.Kind {
	case admin.EventUsers:
		t.load.trigger()
	case admin.EventSettings:
		if ev.Key == "" || strings.HasPrefix(ev.Key, "upload.") || strings.HasPrefix(ev.Key, "http.") {
			t.load.trigger()
		}
	}
}

func (t *filesTab) loadState(ctx context.Context) func() {
	st, err := t.u.api.Uploads(ctx)
	return func() {
		if err != nil {
			t.state.SetText(describe("Cannot read the shared files", err).Error())
			t.state.Importance = widget.DangerImportance
			t.state.Refresh()
			return
		}
		t.set(st)
	}
}

func (t *filesTab) set(st admin.UploadStatus) {
	t.state.Importance = widget.MediumImportance
	where := "Not served: the server's HTTPS listener is off (--http)."
	if st.URL != "" {
		where = "Served at " + st.URL + "."
	}
	t.state.SetText(fmt.Sprintf("%s\nLargest file %s; each account may keep %s and share %s a day; files are kept %s.\nIn all: %d files, %s.",
		where, limitWords(st.MaxFileBytes), limitWords(st.QuotaBytes), limitWords(st.DailyBytes), st.Expiry, st.Files, admin.ByteSize(st.Bytes)))
	t.rows.RemoveAll()
	for _, u := range st.Users {
		line := fmt.Sprintf("%s: %d files, %s", u.JID, u.Files, admin.ByteSize(u.Bytes))
		if st.QuotaBytes > 0 {
			line += fmt.Sprintf(" (%.0f%% of the quota)", 100*float64(u.Bytes)/float64(st.QuotaBytes))
		}
		jid := u.JID
		del := widget.NewButton("Delete their files", func() { t.confirm(jid) })
		del.Importance = widget.DangerImportance
		t.rows.Add(container.NewBorder(nil, nil, nil, del, wrapped(line)))
	}
	if len(st.Users) == 0 {
		t.rows.Add(wrapped("No one has shared a file."))
	}
	t.content.Refresh()
}

func (t *filesTab) confirm(jid string) {
	d := dialog.NewConfirm("Delete shared files?",
		fmt.Sprintf("Delete every file %s shared?\nTheir links stop working. This cannot be undone.", jid),
		func(ok bool) {
			if ok {
				t.purge(jid, false)
			}
		}, t.u.win)
	d.SetConfirmText("Delete")
	d.SetDismissText("Cancel")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

// purge deletes an account's files, or the expired ones.
func (t *filesTab) purge(jid string, expired bool) {
	t.u.call(func(ctx context.Context) func() {
		res, err := t.u.api.PurgeUploads(ctx, jid, expired)
		return func() {
			if err != nil {
				t.result.SetText(describe("Cannot delete the files", err).Error())
				t.result.Importance = widget.DangerImportance
			} else {
				t.result.SetText(fmt.Sprintf("Deleted %d files (%s).", res.Files, admin.ByteSize(res.Bytes)))
				t.result.Importance = widget.MediumImportance
			}
			t.result.Show()
			t.result.Refresh()
			t.load.trigger()
		}
	})
}

func limitWords(n int64) string {
	if n <= 0 {
		return "any amount"
	}
	return admin.ByteSize(n)
}
