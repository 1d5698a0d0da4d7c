package gui

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"hearth/internal/buildinfo"
	"hearth/server/admin"
)

// harness runs a UI over newTestAPI in the Fyne test driver. The test's
// goroutine plays the UI goroutine: what the UI hands to fyne.Do is queued,
// and waitFor runs the queue, so widgets are only touched from one
// goroutine, as in the real driver.
type harness struct {
	t      *testing.T
	api    admin.API
	app    fyne.App
	ui     *UI
	win    fyne.Window
	domain string

	queue chan func()
	done  <-chan struct{}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return harnessOver(t, newTestAPI(t))
}

// harnessOver runs a UI over api.
func harnessOver(t *testing.T, api admin.API) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, api: api, app: a, queue: make(chan func(), 256), done: ctx.Done()}
	h.ui = newUI(a, api, h.post)
	h.win = h.ui.Window()
	h.win.Resize(fyne.NewSize(1000, 600))
	h.ui.Run(ctx)
	t.Cleanup(func() {
		cancel()
		h.ui.Wait()
	})
	info, err := api.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	h.domain = info.Domain
	h.waitFor("the domain on the overview", func() bool { return h.showsText(info.Domain) })
	return h
}

func (h *harness) post(f func()) {
	select {
	case h.queue <- f:
	case <-h.done:
	}
}

// waitFor runs the UI's queue until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case f := <-h.queue:
			f()
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; the window shows:\n%s", what, strings.Join(h.texts(), "\n"))
		}
	}
}

// settle runs the UI's queue until nothing has arrived for a while.
func (h *harness) settle() {
	for {
		select {
		case f := <-h.queue:
			f()
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

// ctx is a context for calling the API from a test.
func (h *harness) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	h.t.Cleanup(cancel)
	return ctx
}

// addUser adds an account through the API, not through the window.
func (h *harness) addUser(local, password string) string {
	h.t.Helper()
	jid := local + "@" + h.domain
	if err := h.api.AddUser(h.ctx(), jid, password); err != nil {
		h.t.Fatalf("AddUser %s: %v", jid, err)
	}
	return jid
}

// user returns the account jid as the API sees it.
func (h *harness) user(jid string) (admin.User, bool) {
	h.t.Helper()
	users, err := h.api.Users(h.ctx())
	if err != nil {
		h.t.Fatalf("Users: %v", err)
	}
	i := slices.IndexFunc(users, func(u admin.User) bool { return u.JID == jid })
	if i < 0 {
		return admin.User{}, false
	}
	return users[i], true
}

func (h *harness) showTab(name string) {
	for _, item := range h.ui.tabs.Items {
		if item.Text == name {
			h.ui.tabs.Select(item)
			return
		}
	}
	h.t.Fatalf("no tab %q", name)
}

// top is what takes the input: the topmost dialog, or the window.
func (h *harness) top() fyne.CanvasObject {
	if o := h.win.Canvas().Overlays().Top(); o != nil {
		return o
	}
	return h.win.Canvas().Content()
}

// walk visits the visible objects under o, through the widgets' renderers.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	visit(o)
	switch o := o.(type) {
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(o).Objects() {
			walk(c, visit)
		}
	case *fyne.Container:
		for _, c := range o.Objects {
			walk(c, visit)
		}
	}
}

// texts lists the visible text of the window and its dialogs.
func (h *harness) texts() []string {
	var out []string
	visit := func(o fyne.CanvasObject) {
		switch o := o.(type) {
		case *widget.Label:
			out = append(out, o.Text)
		case *canvas.Text:
			out = append(out, o.Text)
		case *widget.Button:
			out = append(out, "["+o.Text+"]")
		case *widget.Card:
			out = append(out, o.Title, o.Subtitle)
		}
	}
	walk(h.win.Canvas().Content(), visit)
	for _, o := range h.win.Canvas().Overlays().List() {
		walk(o, visit)
	}
	return out
}

func (h *harness) showsText(s string) bool {
	return slices.ContainsFunc(h.texts(), func(t string) bool { return strings.Contains(t, s) })
}

// button finds the button labelled text on top: in the dialog, if one is
// open.
func (h *harness) button(text string) *widget.Button {
	h.t.Helper()
	var found *widget.Button
	walk(h.top(), func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
	})
	if found == nil {
		h.t.Fatalf("no button %q; the window shows:\n%s", text, strings.Join(h.texts(), "\n"))
	}
	return found
}

// tap taps the button labelled text on top.
func (h *harness) tap(text string) {
	h.t.Helper()
	b := h.button(text)
	if b.Disabled() {
		h.t.Fatalf("button %q is disabled", text)
	}
	test.Tap(b)
}

// row returns the Users tab's row showing jid, or nil.
func (h *harness) row(jid string) *userRow {
	var found *userRow
	walk(h.win.Canvas().Content(), func(o fyne.CanvasObject) {
		if r, ok := o.(*userRow); ok && r.user.JID == jid {
			found = r
		}
	})
	return found
}

// dialogTitled reports whether the topmost dialog has this title.
func (h *harness) dialogTitled(title string) bool {
	o := h.win.Canvas().Overlays().Top()
	if o == nil {
		return false
	}
	var found bool
	walk(o, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && l.Text == title {
			found = true
		}
	})
	return found
}

// shownPassword returns the password the open dialog shows: its one
// monospace label.
func (h *harness) shownPassword() string {
	h.t.Helper()
	var found []string
	walk(h.win.Canvas().Overlays().Top(), func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok && l.TextStyle.Monospace {
			found = append(found, l.Text)
		}
	})
	if len(found) != 1 {
		h.t.Fatalf("want one password in the dialog, found %q", found)
	}
	return found[0]
}

// checkLogin checks that a client can sign in as jid with password, or not.
func (h *harness) checkLogin(jid, password string, want bool) {
	h.t.Helper()
	logout, err := login(h.t, h.api, jid, password)
	switch {
	case want && err != nil:
		h.t.Errorf("%s cannot sign in: %v", jid, err)
	case !want && err == nil:
		h.t.Errorf("%s signs in with password %q, want refused", jid, password)
	}
	if logout != nil {
		logout()
	}
}

func TestNewTitle(t *testing.T) {
	a := test.NewTempApp(t)
	ui := New(a, newTestAPI(t))
	if got := ui.Window().Title(); got != "Hearth" {
		t.Errorf("title %q, want Hearth", got)
	}
	var tabs []string
	for _, item := range ui.tabs.Items {
		tabs = append(tabs, item.Text)
	}
	if want := []string{"Overview", "Users", "Family", "Federation", "LAN chat", "Rooms", "Files", "XML console", "Log", "Settings"}; !slices.Equal(tabs, want) {
		t.Errorf("tabs %q, want %q", tabs, want)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	a := test.NewTempApp(t)
	ui := newUI(a, newTestAPI(t), func(func()) {}) // the window is not under test
	ctx, cancel := context.WithCancel(context.Background())
	ui.Run(ctx)
	cancel()
	stopped := make(chan struct{})
	go func() {
		ui.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the context was cancelled")
	}
	ui.Run(ctx) // a stopped UI starts nothing
	ui.Wait()
}

// TestAbout: the version is one people read, never a Go pseudo-version,
// and the About box shows it with the commit.
func TestAbout(t *testing.T) {
	h := newHarness(t)
	h.waitFor("the version", func() bool { return h.ui.overview.version.Text != "" })
	h.tap("About")
	h.waitFor("the About box", func() bool { return h.dialogTitled("About Hearth") })
	b := buildinfo.Read()
	for _, want := range []string{h.ui.overview.info.Version, cmp.Or(b.Commit, "not recorded in this build"), b.Go} {
		if !h.showsText(want) {
			t.Errorf("the About box does not show %q:\n%s", want, strings.Join(h.texts(), "\n"))
		}
	}
	if h.showsText("v0.0.0-") {
		t.Error("a Go pseudo-version shows")
	}
	h.tap("Close")
}
