package gui

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// overviewTab shows what the server is, how a family device connects to
// it, and who is online.
type overviewTab struct {
	u       *UI
	content fyne.CanvasObject
	body    *fyne.Container
	scroll  *container.Scroll

	info    admin.Info
	hasInfo bool

	status    *widget.Label // running, or why not
	domain    *widget.Label
	uptime    *widget.Label
	version   *widget.Label
	dataDir   *widget.Label
	listeners *widget.Label

	account     *widget.Label // name@domain
	host        *widget.Label
	ports       *widget.Label
	fingerprint *widget.Label
	copyFP      *widget.Button

	online   *widget.Card
	sessions *fyne.Container
}

func newOverviewTab(u *UI) *overviewTab {
	t := &overviewTab{u: u}

	t.status = widget.NewLabel("loading…")
	t.domain = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.domain.Selectable = true
	t.uptime = widget.NewLabel("")
	t.version = widget.NewLabel("")
	t.dataDir = widget.NewLabel("")
	t.dataDir.Selectable = true
	t.dataDir.Truncation = fyne.TextTruncateEllipsis
	t.listeners = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	server := widget.NewCard("Server", "", container.New(layout.NewFormLayout(),
		key("Status"), t.status,
		key("Domain"), t.domain,
		key("Uptime"), t.uptime,
		key("Version"), t.version,
		key("Data"), t.dataDir,
		key("Listening"), t.listeners,
	))

	t.sessions = container.NewVBox()
	t.online = widget.NewCard("Online now", "loading…", t.sessions)

	t.account = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.host = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.host.Selectable = true
	t.ports = widget.NewLabel("")
	t.ports.Wrapping = fyne.TextWrapWord
	t.fingerprint = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	t.fingerprint.Selectable = true
	t.copyFP = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		if t.info.CertFingerprint != "" {
			t.u.app.Clipboard().SetContent(t.info.CertFingerprint)
		}
	})
	t.copyFP.Importance = widget.LowImportance
	connect := widget.NewCard("Connect a family device", "", container.NewVBox(
		wrapped("In any XMPP app (Conversations, Monal, Gajim, Dino, …), sign in with the account made on the Users tab:"),
		container.New(layout.NewFormLayout(), key("Account"), t.account),
		wrapped("If the app does not find the server by itself, enter its address by hand:"),
		container.New(layout.NewFormLayout(), key("Server"), t.host, key("Port"), t.ports),
		wrapped("If the app asks whether to trust the server's certificate, check that its SHA-256 fingerprint is:"),
		container.NewBorder(nil, nil, nil, container.NewVBox(t.copyFP), t.fingerprint),
	))

	t.body = container.NewGridWithColumns(2,
		container.NewVBox(server, t.online),
		container.NewVBox(connect),
	)
	t.scroll = container.NewVScroll(t.body)
	t.content = t.scroll
	return t
}

// relayout fits the cards around contents that changed size.
func (t *overviewTab) relayout() {
	t.body.Refresh()
	t.scroll.Refresh()
}

// key is the label of one row in a form layout.
func key(s string) *widget.Label {
	return widget.NewLabel(s)
}

func wrapped(s string) *widget.Label {
	l := widget.NewLabel(s)
	l.Wrapping = fyne.TextWrapWord
	return l
}

func (t *overviewTab) setInfo(info admin.Info, err error) {
	if err != nil {
		t.status.SetText(describe("cannot read the server's state", err).Error())
		t.status.Wrapping = fyne.TextWrapWord
		t.status.Importance = widget.DangerImportance
		t.status.Refresh()
		t.relayout()
		return
	}
	t.info, t.hasInfo = info, true
	t.status.Wrapping = fyne.TextWrapOff
	if info.Running {
		t.status.SetText("running")
		t.status.Importance = widget.SuccessImportance
	} else {
		t.status.SetText("stopped: changes go to its database")
		t.status.Importance = widget.WarningImportance
	}
	t.status.Refresh()

	t.domain.SetText(info.Domain)
	t.version.SetText(cmp.Or(info.Version, "unknown"))
	t.dataDir.SetText(info.DataDir)
	t.tick()

	width := 0
	for _, l := range info.Listeners {
		width = max(width, len(l.Name))
	}
	var lines []string
	for _, l := range info.Listeners {
		lines = append(lines, fmt.Sprintf("%-*s %s", width, l.Name, l.Addr))
	}
	t.listeners.SetText(cmp.Or(strings.Join(lines, "\n"), "nothing"))

	t.account.SetText("name@" + info.Domain)
	host, ports := connectAddress(info)
	t.host.SetText(host)
	t.ports.SetText(ports)
	if info.CertFingerprint == "" {
		t.fingerprint.SetText("no certificate yet")
		t.copyFP.Disable()
	} else {
		t.fingerprint.SetText(groupFingerprint(info.CertFingerprint))
		t.copyFP.Enable()
	}
	t.relayout()
}

// tick updates what depends on the clock.
func (t *overviewTab) tick() {
	if !t.hasInfo {
		return
	}
	if !t.info.Running || t.info.Started.IsZero() {
		t.uptime.SetText("not running")
		return
	}
	t.uptime.SetText(fmt.Sprintf("%s (since %s)", duration(time.Since(t.info.Started)), when(t.info.Started)))
}

func (t *overviewTab) loadSessions(ctx context.Context) func() {
	sessions, err := t.u.api.Sessions(ctx)
	return func() { t.setSessions(sessions, err) }
}

func (t *overviewTab) setSessions(sessions []admin.Session, err error) {
	t.sessions.RemoveAll()
	if err != nil {
		t.online.SetSubTitle(describe("cannot list the sessions", err).Error())
		t.relayout()
		return
	}
	slices.SortFunc(sessions, func(a, b admin.Session) int { return strings.Compare(a.JID, b.JID) })
	switch len(sessions) {
	case 0:
		t.online.SetSubTitle("No one is online.")
	case 1:
		t.online.SetSubTitle("1 session")
	default:
		t.online.SetSubTitle(fmt.Sprintf("%d sessions", len(sessions)))
	}
	for _, s := range sessions {
		t.sessions.Add(sessionRow(s))
	}
	t.relayout()
}

func sessionRow(s admin.Session) fyne.CanvasObject {
	icon := theme.NewColoredResource(theme.MediaRecordIcon(), theme.ColorNameSuccess)
	details := []string{cmp.Or(s.Presence, "unavailable")}
	if s.Addr != "" {
		details = append(details, s.Addr)
	}
	if !s.Since.IsZero() {
		details = append(details, "since "+when(s.Since))
	}
	if !s.Secure {
		icon = theme.NewColoredResource(theme.WarningIcon(), theme.ColorNameWarning)
		details = append(details, "not encrypted")
	}
	jid := widget.NewLabelWithStyle(s.JID, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	jid.Truncation = fyne.TextTruncateEllipsis
	info := widget.NewLabel(strings.Join(details, " · "))
	info.SizeName = theme.SizeNameCaptionText
	info.Truncation = fyne.TextTruncateEllipsis
	return container.NewBorder(nil, nil, widget.NewIcon(icon), nil,
		container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), jid, info))
}

// connectAddress says what to type into a client whose automatic
// discovery (SRV records, mDNS) fails: the host and the client ports.
func connectAddress(info admin.Info) (host, ports string) {
	host = info.Domain
	var list []string
	for _, l := range info.Listeners {
		var kind string
		switch l.Name {
		case "c2s":
			kind = "STARTTLS"
		case "c2s-tls":
			kind = "direct TLS"
		default:
			continue
		}
		h, p, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		if ip := net.ParseIP(h); h != "" && !(ip != nil && ip.IsUnspecified()) && !(ip != nil && ip.IsLoopback()) {
			host = h // bound to one address: that is the one to use
		}
		list = append(list, fmt.Sprintf("%s (%s)", p, kind))
	}
	if len(list) == 0 {
		return host, "the server is not listening for clients"
	}
	return host, strings.Join(list, " or ")
}

// groupFingerprint breaks a colon-separated SHA-256 fingerprint into lines
// of eight bytes, easier to compare by eye or read aloud.
func groupFingerprint(fp string) string {
	parts := strings.Split(fp, ":")
	if len(parts) < 16 {
		return fp
	}
	var lines []string
	for len(parts) > 0 {
		n := min(8, len(parts))
		lines = append(lines, strings.Join(parts[:n], ":"))
		parts = parts[n:]
	}
	return strings.Join(lines, "\n")
}

// duration is a rough, readable length of time.
func duration(d time.Duration) string {
	d = d.Round(time.Minute)
	days := int(d / (24 * time.Hour))
	hours := int(d % (24 * time.Hour) / time.Hour)
	mins := int(d % time.Hour / time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%d d %d h", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d h %d min", hours, mins)
	default:
		return fmt.Sprintf("%d min", mins)
	}
}

// when is a short local time: the clock today, with the date otherwise.
func when(t time.Time) string {
	t = t.Local()
	now := time.Now()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("2 Jan 15:04")
}
