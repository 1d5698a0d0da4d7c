// Package gui is Hearth's admin window: Fyne tabs over the admin API.
//
// The package holds no business logic: every change goes through admin.API,
// and live changes come back as admin.Event values from API.Watch. Calls to
// the API run in background goroutines; their results are applied to the
// widgets on the UI goroutine with fyne.Do, so the UI goroutine never waits
// on I/O. One file per tab.
package gui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"

	"hearth/assets"
	_ "hearth/internal/locale" // before Fyne reads the locale (its tests too)
	"hearth/server/admin"
)

// Icon is the application icon, for fyne.App.SetIcon.
var Icon fyne.Resource = fyne.NewStaticResource("icon.png", assets.Icon)

const (
	// callTimeout bounds one admin API call started from the window.
	callTimeout = 30 * time.Second
	// tickEvery updates the uptime shown on the overview, and the server's
	// info: the health lines follow what sends no event (failed logins,
	// certificates, the LAN announcement).
	tickEvery = 30 * time.Second
	// reloadEvery reloads everything as a safety net: Watch drops events
	// for a slow reader rather than blocking the server.
	reloadEvery = 2 * time.Minute
	// rewatchAfter is the pause before subscribing again when the server
	// ends a Watch subscription while the window still runs.
	rewatchAfter = 2 * time.Second
)

// UI is the admin window and its tabs.
type UI struct {
	app fyne.App
	api admin.API
	win fyne.Window
	// do applies a function on the UI goroutine: fyne.Do, except in tests,
	// which run the UI goroutine's queue themselves.
	do func(func())

	// ctx bounds all background work; it is cancelled when the context
	// given to Run is done.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add against Wait
	closed bool
	wg     sync.WaitGroup

	info     *reloader
	sessions *reloader
	accounts *reloader
	// settingsLoad loads the Settings tab (settings.go).
	settingsLoad *reloader

	// Owned by the UI goroutine.
	overview   *overviewTab
	users      *usersTab
	family     *familyTab
	federation *federationTab
	lan        *lanTab
	rooms      *roomsTab
	files      *filesTab
	components *componentsPanel // on the Settings tab
	settings   *settingsTab
	console    *consoleTab
	logs       *logsTab
	tabs       *container.AppTabs

	// Closing the window (close.go); owned by the UI goroutine.
	closing  *Closing
	trayMenu *fyne.Menu
	hidden   bool
	asking   bool // the close question is on screen
}

// New builds the window titled "Hearth" with its tabs. Nothing is loaded
// and no goroutine is started until Run.
func New(a fyne.App, api admin.API) *UI {
	return newUI(a, api, fyne.Do)
}

func newUI(a fyne.App, api admin.API, do func(func())) *UI {
	u := &UI{app: a, api: api, do: do}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.win = a.NewWindow("Hearth")
	u.win.SetIcon(Icon)

	u.overview = newOverviewTab(u)
	u.users = newUsersTab(u)
	u.family = newFamilyTab(u)
	u.federation = newFederationTab(u)
	u.lan = newLANTab(u)
	u.rooms = newRoomsTab(u)
	u.files = newFilesTab(u)
	u.components = newComponentsTab(u)
	u.console = newConsoleTab(u)
	u.logs = newLogsTab(u)
	u.info = &reloader{u: u, load: u.loadInfo}
	u.sessions = &reloader{u: u, load: u.overview.loadSessions}
	u.accounts = &reloader{u: u, load: u.users.load}
	u.settings = newSettingsTab(u)
	u.settingsLoad = &reloader{u: u, load: u.settings.load}

	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Overview", theme.HomeIcon(), u.overview.content),
		container.NewTabItemWithIcon("Users", theme.AccountIcon(), u.users.content),
		container.NewTabItemWithIcon("Family", theme.ListIcon(), u.family.content),
		container.NewTabItemWithIcon("Federation", theme.MailForwardIcon(), u.federation.content),
		container.NewTabItemWithIcon("LAN chat", theme.GridIcon(), u.lan.content),
		container.NewTabItemWithIcon("Rooms", theme.MailReplyAllIcon(), u.rooms.content),
		container.NewTabItemWithIcon("Files", theme.FolderIcon(), u.files.content),
		container.NewTabItemWithIcon("XML console", theme.ComputerIcon(), u.console.content),
		container.NewTabItemWithIcon("Log", theme.DocumentIcon(), u.logs.content),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.settings.content),
	)
	u.tabs.OnSelected = func(*container.TabItem) { u.catchUp() }
	u.tabs.SetTabLocation(container.TabLocationTop)
	u.win.SetContent(u.tabs)
	u.win.Resize(fyne.NewSize(1000, 600))
	return u
}

// inSight reports whether content is the selected tab of a shown window:
// the console and the log redraw only then, and catch up when they come
// into sight.
func (u *UI) inSight(content fyne.CanvasObject) bool {
	if u.hidden || u.tabs == nil {
		return false
	}
	sel := u.tabs.Selected()
	return sel != nil && sel.Content == content
}

// catchUp redraws the live tabs that changed while out of sight, and
// reloads the federation links when they come into sight; a federation
// test ends when its tab goes out of sight.
func (u *UI) catchUp() {
	if u.inSight(u.federation.content) {
		u.federation.load.trigger()
	} else {
		u.federation.left()
	}
	if u.inSight(u.lan.content) {
		u.lan.load.trigger()
	}
	if u.inSight(u.rooms.content) {
		u.rooms.load.trigger()
	}
	if u.inSight(u.files.content) {
		u.files.load.trigger()
	}
	if u.inSight(u.settings.content) {
		u.components.load.trigger()
	}
	if u.console.stale {
		u.console.render()
	}
	if u.logs.stale {
		u.logs.render()
	}
}

// Window returns the admin window.
func (u *UI) Window() fyne.Window { return u.win }

// Run loads every tab and starts the goroutine that follows the server's
// live events (api.Watch) and applies them to the tabs. It returns at once.
// Everything it starts stops when ctx is done; Wait waits for that.
// Call Run once.
func (u *UI) Run(ctx context.Context) {
	context.AfterFunc(ctx, u.stop)
	u.background(u.watch)
	u.background(u.logs.follow)
}

// Wait blocks until the context given to Run is done and every goroutine
// the UI started has returned.
func (u *UI) Wait() {
	<-u.ctx.Done()
	u.wg.Wait()
}

func (u *UI) stop() {
	u.mu.Lock()
	u.closed = true
	u.mu.Unlock()
	u.cancel()
}

// background runs fn in a goroutine owned by the UI; it does nothing once
// the UI has stopped.
func (u *UI) background(fn func(ctx context.Context)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		fn(u.ctx)
	}()
}

// call runs one API call in the background and applies its result on the
// UI goroutine.
func (u *UI) call(work func(ctx context.Context) (apply func())) {
	u.background(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		apply := work(ctx)
		cancel()
		if apply != nil && u.ctx.Err() == nil {
			u.do(apply)
		}
	})
}

func (u *UI) watch(ctx context.Context) {
	events := u.api.Watch(ctx)
	u.reloadAll()
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	links := time.NewTicker(linksEvery)
	defer links.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				// The server ended the subscription (it restarted, or the
				// admin socket closed): subscribe again and catch up.
				select {
				case <-ctx.Done():
					return
				case <-time.After(rewatchAfter):
				}
				events = u.api.Watch(ctx)
				u.reloadAll()
				continue
			}
			u.handle(ev)
		case <-tick.C:
			u.do(u.overview.tick)
			u.info.trigger()
		case <-reload.C:
			u.reloadAll()
		case <-links.C:
			u.do(func() {
				if u.inSight(u.federation.content) {
					u.federation.load.trigger()
				}
				if u.inSight(u.lan.content) {
					u.lan.load.trigger() // peers come and go without an event
				}
				if u.inSight(u.rooms.content) {
					u.rooms.load.trigger() // so do occupants
				}
				if u.inSight(u.files.content) {
					u.files.load.trigger() // uploads send no event
				}
				if u.inSight(u.settings.content) {
					u.components.load.trigger() // nor do components' connections
				}
			})
		}
	}
}

func (u *UI) handle(ev admin.Event) {
	u.family.handle(ev)
	u.federation.handle(ev)
	u.lan.handle(ev)
	u.rooms.handle(ev)
	u.files.handle(ev)
	u.components.handle(ev)
	switch ev.Kind {
	case admin.EventSessionUp, admin.EventSessionDown:
		u.sessions.trigger()
		u.accounts.trigger() // session counts
		u.console.sessions.trigger()
	case admin.EventPresence:
		u.sessions.trigger()
	case admin.EventUsers:
		u.accounts.trigger()
	case admin.EventSettings:
		u.info.trigger()
		u.settingsLoad.trigger()
	}
}

func (u *UI) reloadAll() {
	u.info.trigger()
	u.sessions.trigger()
	u.accounts.trigger()
	u.family.reload()
	u.federation.load.trigger()
	u.lan.load.trigger()
	u.rooms.load.trigger()
	u.files.load.trigger()
	u.components.load.trigger()
	u.settingsLoad.trigger()
	u.console.sessions.trigger()
}

func (u *UI) loadInfo(ctx context.Context) func() {
	info, err := u.api.Info(ctx)
	checked := u.overview.health.checkDatabase(ctx, info)
	return func() {
		u.overview.setInfo(info, err)
		if err == nil {
			u.users.setDomain(info.Domain)
		}
		if checked != nil {
			checked()
		}
	}
}

// showError shows err in a dialog over the window.
func (u *UI) showError(err error) {
	dialog.ShowError(err, u.win)
}

// describe turns an admin API error into a sentence for the dialog.
func describe(what string, err error) error {
	switch {
	case errors.Is(err, admin.ErrOffline):
		return fmt.Errorf("%s: the server is not running", what)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: the server did not answer in time", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// reloader loads one view in the background, one load at a time: a
// trigger while a load runs schedules exactly one more, so a burst of
// events costs at most two loads.
type reloader struct {
	u    *UI
	load func(ctx context.Context) (apply func())

	mu    sync.Mutex
	busy  bool
	again bool
}

func (r *reloader) trigger() {
	r.mu.Lock()
	if r.busy {
		r.again = true
		r.mu.Unlock()
		return
	}
	r.busy = true
	r.mu.Unlock()
	r.u.background(r.run)
}

func (r *reloader) run(ctx context.Context) {
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		apply := r.load(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.u.do(apply)
		r.mu.Lock()
		if !r.again {
			r.busy = false
			r.mu.Unlock()
			return
		}
		r.again = false
		r.mu.Unlock()
	}
}
