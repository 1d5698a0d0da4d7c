package gui

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// The federation settings' keys (server/settings, which the window sees
// only through the admin API).
const (
	keyFederation      = "federation.enabled"
	keyFederationAllow = "federation.allow"
	keyFederationBlock = "federation.block"
)

const (
	// linksEvery reloads the links while the tab is in sight: stanza
	// counts and new links send no event.
	linksEvery = 5 * time.Second
	// testTimeout bounds one federation test; a server that does not
	// answer takes about half a minute to give up on.
	testTimeout = 90 * time.Second
)

// federationTab is federation's switch, where other servers connect, the
// allow and block lists, the live links, and a step-by-step test of
// federation with another server.
type federationTab struct {
	u       *UI
	content fyne.CanvasObject
	load    *reloader

	body   *fyne.Container
	scroll *container.Scroll

	on *widget.Check
	// showing is true while the check shows the stored setting, so that
	// its OnChanged knows no one clicked.
	showing   bool
	onResult  *widget.Label // why switching failed, or ""
	state     *widget.Label // on or off, in words
	listening *widget.Label // where other servers connect

	allow, block           *widget.Entry
	allowShown, blockShown string // the stored values, as last loaded
	save                   *widget.Button
	saving                 bool
	listResult             *widget.Label

	links     *widget.Card
	linkRows  *fyne.Container
	linksNote *widget.Label // what "no links" means

	testDomain *widget.Entry
	testButton *widget.Button
	testStatus *widget.Label
	testSteps  *fyne.Container
	// testing ends the running test; nil while none runs.
	testing func()
	testID  int // counts tests, so a late word from an old one is ignored
}

func newFederationTab(u *UI) *federationTab {
	t := &federationTab{u: u}
	t.load = &reloader{u: u, load: t.loadState}

	t.on = widget.NewCheck("On", t.switchOn)
	t.on.Disable() // until the setting is loaded
	t.onResult = wrapped("")
	t.onResult.Importance = widget.DangerImportance
	t.onResult.Hide()
	t.state = wrapped("Loading…")
	t.listening = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	t.listening.Selectable = true
	t.listening.Wrapping = fyne.TextWrapWord
	switchCard := widget.NewCard("Federation", "", container.NewVBox(
		wrapped("People with an account here can talk with people on other XMPP servers "+
			"(jabber.org, conversations.im, a friend's Hearth), and they with them. "+
			"Other servers must reach this one: port 5269 open to the internet, forwarded by the router to this machine."),
		t.on,
		t.onResult,
		t.state,
		container.New(layout.NewFormLayout(), key("Other servers connect to"), t.listening),
	))

	t.allow = widget.NewEntry()
	t.allow.SetPlaceHolder("any server")
	t.block = widget.NewEntry()
	t.block.SetPlaceHolder("none")
	t.allow.OnChanged = func(string) { t.validate() }
	t.block.OnChanged = func(string) { t.validate() }
	t.allow.OnSubmitted = func(string) { t.saveLists() }
	t.block.OnSubmitted = func(string) { t.saveLists() }
	t.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), t.saveLists)
	t.save.Disable()
	t.listResult = wrapped("")
	t.listResult.Hide()
	listsCard := widget.NewCard("Which servers", "", container.NewVBox(
		wrapped("Domains separated by spaces, such as jabber.org conversations.im; each counts with its subdomains. "+
			"A blocked server is never talked to, even if it is allowed."),
		container.New(layout.NewFormLayout(), key("Only these"), t.allow, key("Never these"), t.block),
		container.NewHBox(layout.NewSpacer(), t.save),
		t.listResult,
	))

	t.linkRows = container.NewVBox()
	t.linksNote = wrapped("")
	t.linksNote.Hide()
	t.links = widget.NewCard("Links to other servers", "Loading…", container.NewVBox(t.linksNote, t.linkRows))

	t.testDomain = widget.NewEntry()
	t.testDomain.SetPlaceHolder("a domain, for example jabber.org")
	t.testDomain.OnChanged = func(string) { t.updateTestButton() }
	t.testDomain.OnSubmitted = func(string) {
		if t.testing == nil {
			t.toggleTest()
		}
	}
	t.testButton = widget.NewButtonWithIcon("Test", theme.MediaPlayIcon(), t.toggleTest)
	t.testStatus = wrapped("Checks step by step whether this server and another can talk: " +
		"DNS, the connection, its certificate, whether each proves who it is, and a question and its answer.")
	t.testSteps = container.NewVBox()
	testCard := widget.NewCard("Test a server", "", container.NewVBox(
		container.NewBorder(nil, nil, key("Domain"), t.testButton, t.testDomain),
		t.testStatus,
		t.testSteps,
	))
	t.updateTestButton()

	t.body = container.NewGridWithColumns(2,
		container.NewVBox(switchCard, listsCard),
		container.NewVBox(t.links, testCard),
	)
	t.scroll = container.NewVScroll(t.body)
	t.content = t.scroll
	return t
}

// handle follows the server's events: the federation settings.
func (t *federationTab) handle(ev admin.Event) {
	if ev.Kind == admin.EventSettings && (ev.Key == "" || strings.HasPrefix(ev.Key, "federation.")) {
		t.load.trigger()
	}
}

// relayout fits the cards around contents that changed size.
func (t *federationTab) relayout() {
	t.body.Refresh()
	t.scroll.Refresh()
}

// loadState reads the stored settings and how federation stands.
func (t *federationTab) loadState(ctx context.Context) func() {
	settings, err := t.u.api.Settings(ctx)
	if err != nil {
		return func() { t.setError(describe("Cannot read the federation settings", err)) }
	}
	info, infoErr := t.u.api.Info(ctx)
	return func() {
		t.setSettings(settings)
		if infoErr != nil {
			t.setError(describe("Cannot read how federation stands", infoErr))
			return
		}
		t.setInfo(info)
	}
}

func (t *federationTab) setError(err error) {
	t.state.SetText(err.Error())
	t.state.Importance = widget.DangerImportance
	t.state.Show()
	t.state.Refresh()
	t.relayout()
}

// setSettings shows the stored settings; what is being typed is kept.
func (t *federationTab) setSettings(settings []admin.Setting) {
	for _, s := range settings {
		switch s.Key {
		case keyFederation:
			t.showing = true
			t.on.SetChecked(s.Value == "true")
			t.showing = false
			t.on.Enable()
		case keyFederationAllow:
			if t.allow.Text == t.allowShown {
				t.allow.SetText(s.Value)
			}
			t.allowShown = s.Value
		case keyFederationBlock:
			if t.block.Text == t.blockShown {
				t.block.SetText(s.Value)
			}
			t.blockShown = s.Value
		}
	}
	t.validate()
}

// setInfo shows how federation stands in the running server: where other
// servers connect, and the links.
func (t *federationTab) setInfo(info admin.Info) {
	fed := info.Federation
	t.state.Importance = widget.MediumImportance
	switch {
	case !info.Running:
		t.state.SetText("The server is not running.")
	case !fed.Enabled:
		t.state.SetText("Off: accounts here talk only with each other.")
	case fed.Listening == "":
		t.state.SetText("On, but other servers cannot connect to this one: the federation port is not open (see the Log tab).")
		t.state.Importance = widget.WarningImportance
	default:
		t.state.SetText("") // the check says it
	}
	shown(t.state.Text != "", t.state)
	t.state.Refresh()
	t.listening.SetText(listeningWords(fed.Listening))

	t.linkRows.RemoveAll()
	t.linksNote.SetText("")
	switch n := len(fed.Links); {
	case n == 0 && fed.Enabled:
		t.links.SetSubTitle("None yet")
		t.linksNote.SetText("A link opens when someone here writes to someone on another server, or another server connects.")
	case n == 0:
		t.links.SetSubTitle("None: federation is off")
	case n == 1:
		t.links.SetSubTitle("1 link" + linkProblems(fed.Links))
	default:
		t.links.SetSubTitle(fmt.Sprintf("%d links%s", n, linkProblems(fed.Links)))
	}
	shown(t.linksNote.Text != "", t.linksNote)
	for _, l := range fed.Links {
		t.linkRows.Add(linkRow(info.Domain, l))
	}
	t.relayout()
}

// listeningWords says where other servers connect: an address, or a port
// on every address of this machine.
func listeningWords(addr string) string {
	if addr == "" {
		return "nowhere"
	}
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && (host == "" || ip != nil && ip.IsUnspecified()) {
		return "port " + port + " on every address of this machine"
	}
	return addr
}

// linkProblems is ", N with an error", or "" when no link has one.
func linkProblems(links []admin.FederationLink) string {
	if n := admin.LinkErrors(links); n > 0 {
		return fmt.Sprintf(", %d with an error", n)
	}
	return ""
}

// linkRow is one link: the other server, and what there is to know about
// the link in words, with its problem if it has one.
func linkRow(domain string, l admin.FederationLink) fyne.CanvasObject {
	icon := theme.NewColoredResource(theme.MediaRecordIcon(), theme.ColorNameSuccess)
	name := l.Remote
	if l.Local != "" && l.Local != domain {
		name += " (for " + l.Local + ")"
	}
	var details []string
	if l.Since.IsZero() {
		details = append(details, "not reached")
	} else {
		details = append(details, directionWords(l.Direction))
		switch l.Auth {
		case "":
			details = append(details, "setting up")
		case "certificate":
			details = append(details, "proven by certificate")
		default:
			details = append(details, "proven by "+l.Auth)
		}
		if l.TLS != "" {
			details = append(details, l.TLS)
		}
		details = append(details, "since "+when(l.Since), fmt.Sprintf("%d in, %d out", l.In, l.Out))
	}
	remote := widget.NewLabelWithStyle(name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	remote.Truncation = fyne.TextTruncateEllipsis
	info := widget.NewLabel(strings.Join(details, " · "))
	info.SizeName = theme.SizeNameCaptionText
	info.Wrapping = fyne.TextWrapWord
	lines := []fyne.CanvasObject{remote, info}
	if l.Certificate != "" {
		// The link works; the other server proved who it is otherwise.
		c := wrapped("Its certificate is not valid for it (" + strings.TrimRight(l.Certificate, ".") + "), so it proves who it is by dialback.")
		c.SizeName = theme.SizeNameCaptionText
		lines = append(lines, c)
	}
	if l.Error != "" {
		icon = theme.NewColoredResource(theme.WarningIcon(), theme.ColorNameWarning)
		if l.Since.IsZero() {
			icon = theme.NewColoredResource(theme.ErrorIcon(), theme.ColorNameError)
		}
		e := wrapped(strings.Join(strings.Fields(l.Error), " "))
		e.Importance = widget.WarningImportance
		e.SizeName = theme.SizeNameCaptionText
		lines = append(lines, e)
	}
	return container.NewBorder(nil, nil, container.NewVBox(widget.NewIcon(icon)), nil,
		container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), lines...))
}

// directionWords says who opened a link.
func directionWords(d string) string {
	switch d {
	case "out":
		return "this server connected"
	case "in":
		return "it connected here"
	case "both":
		return "one link both ways"
	}
	return d
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// The switch.

// switchOn is the check's OnChanged: a person switched federation.
func (t *federationTab) switchOn(on bool) {
	if t.showing {
		return
	}
	t.on.Disable()
	t.onResult.Hide()
	t.u.call(func(ctx context.Context) func() {
		_, err := t.u.api.SetSetting(ctx, keyFederation, strconv.FormatBool(on))
		return func() {
			t.on.Enable()
			if err != nil {
				t.onResult.SetText(plainSettingError(keyFederation, err))
				t.onResult.Show()
			}
			t.load.trigger() // shows what is stored, either way
			t.relayout()
		}
	})
}

// The allow and block lists.

// validate checks the lists as they are typed, and offers to save them
// when both are good and one changed.
func (t *federationTab) validate() {
	changed := false
	for _, l := range []struct {
		key   string
		entry *widget.Entry
		shown string
	}{{keyFederationAllow, t.allow, t.allowShown}, {keyFederationBlock, t.block, t.blockShown}} {
		if l.entry.Text == l.shown {
			continue
		}
		if _, err := admin.CheckSetting(l.key, l.entry.Text); err != nil {
			t.showListResult(plainSettingError(l.key, err), widget.DangerImportance)
			t.save.Disable()
			return
		}
		changed = true
	}
	if t.listResult.Importance == widget.DangerImportance {
		t.showListResult("", widget.MediumImportance)
	}
	if changed && !t.saving {
		t.save.Enable()
	} else {
		t.save.Disable()
	}
}

// saveLists stores the lists that changed, in the background.
func (t *federationTab) saveLists() {
	if t.saving || t.save.Disabled() {
		return
	}
	t.saving = true
	t.save.Disable()
	allow, block := t.allow.Text, t.block.Text
	saveAllow, saveBlock := allow != t.allowShown, block != t.blockShown
	t.u.call(func(ctx context.Context) func() {
		var err error
		key, savedAllow := keyFederationAllow, false
		if saveAllow {
			_, err = t.u.api.SetSetting(ctx, key, allow)
			savedAllow = err == nil
		}
		if err == nil && saveBlock {
			key = keyFederationBlock
			_, err = t.u.api.SetSetting(ctx, key, block)
		}
		return func() {
			t.saving = false
			// What was saved counts as shown: the server's form of it
			// replaces what was typed when the settings event reloads
			// the tab.
			if savedAllow {
				t.allowShown = allow
			}
			if saveBlock && err == nil {
				t.blockShown = block
			}
			t.validate()
			if err != nil {
				t.showListResult(plainSettingError(key, err), widget.DangerImportance)
				return
			}
			t.showListResult("Saved and applied.", widget.SuccessImportance)
			t.load.trigger()
		}
	})
}

func (t *federationTab) showListResult(text string, importance widget.Importance) {
	t.listResult.SetText(text)
	t.listResult.Importance = importance
	shown(text != "", t.listResult)
	t.listResult.Refresh()
	t.relayout()
}

// federationHealth is the Overview's federation line: off, on with its
// links, or the links' problems.
func federationHealth(info admin.Info) (string, widget.Importance) {
	fed := info.Federation
	switch {
	case !info.Running:
		return "the server is not running", widget.MediumImportance
	case !fed.Enabled:
		return "off: accounts here talk only with each other", widget.MediumImportance
	case fed.Listening == "":
		return "on, but other servers cannot connect to this one: the federation port is not open", widget.WarningImportance
	}
	var bad []string
	for _, l := range fed.Links {
		if l.Error != "" {
			bad = append(bad, l.Remote)
		}
	}
	links := "no links yet"
	switch len(fed.Links) {
	case 0:
	case 1:
		links = "1 link"
	default:
		links = fmt.Sprintf("%d links", len(fed.Links))
	}
	if len(bad) > 0 {
		return fmt.Sprintf("on, %s; problems with %s (see the Federation tab)", links, strings.Join(bad, ", ")), widget.WarningImportance
	}
	return "on, " + links, widget.SuccessImportance
}
