package gui

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/skip2/go-qrcode"

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

	account *widget.Label // name@domain
	host    *widget.Label // the addresses to type by hand
	ports   *widget.Label
	lanName *widget.Label // the .local name, and whether it is announced
	certs   *certSection
	health  *healthSection

	// fingerprint and copyFP show the server's SHA-256 fingerprint, the
	// one most apps ask about.
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
	t.version.Wrapping = fyne.TextWrapWord
	about := widget.NewButton("About", func() { u.showAbout(t.info.Version) })
	about.Importance = widget.LowImportance
	t.dataDir = widget.NewLabel("")
	t.dataDir.Selectable = true
	t.dataDir.Truncation = fyne.TextTruncateEllipsis
	t.listeners = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	server := widget.NewCard("Server", "", container.New(layout.NewFormLayout(),
		key("Status"), t.status,
		key("Domain"), t.domain,
		key("Uptime"), t.uptime,
		key("Version"), container.NewBorder(nil, nil, nil, about, t.version),
		key("Data"), container.NewBorder(nil, nil, nil, newBackupButton(u), t.dataDir),
		key("Listening"), t.listeners,
	))

	t.sessions = container.NewVBox()
	t.online = widget.NewCard("Online now", "loading…", t.sessions)
	t.health = newHealthSection(u)

	t.account = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.host = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	t.host.Selectable = true
	t.ports = widget.NewLabel("")
	t.ports.Wrapping = fyne.TextWrapWord
	t.lanName = wrapped("")
	t.certs = newCertSection(u)
	t.fingerprint, t.copyFP = t.certs.serverSHA256.label, t.certs.serverSHA256.copy
	connect := widget.NewCard("Connect a family device", "", container.NewVBox(
		wrapped("In any XMPP app (Conversations, Monal, Gajim, Dino, …), sign in with the account made on the Users tab:"),
		container.New(layout.NewFormLayout(), key("Account"), t.account),
		wrapped("If the app does not find the server by itself, enter its address by hand:"),
		container.New(layout.NewFormLayout(), key("Server"), t.host, key("Port"), t.ports),
		t.lanName,
		t.certs.content,
	))

	t.body = container.NewGridWithColumns(2,
		container.NewVBox(server, t.health.card, t.online),
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
	t.lanName.SetText(lanNameText(info))
	shown(t.lanName.Text != "", t.lanName)
	t.certs.set(info)
	t.health.set(info)
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
		t.sessions.Add(t.sessionRow(s))
	}
	t.relayout()
}

// sessionRow is one session: who, from where, since when, and a button
// that disconnects it (the app usually signs in again by itself; disable
// the account on the Users tab to keep it out).
func (t *overviewTab) sessionRow(s admin.Session) fyne.CanvasObject {
	icon := theme.NewColoredResource(theme.MediaRecordIcon(), theme.ColorNameSuccess)
	details := []string{cmp.Or(s.Presence, "unavailable")}
	if s.Held {
		icon = theme.NewColoredResource(theme.HistoryIcon(), theme.ColorNameWarning)
		details = append(details, "connection lost, waiting for the device to come back")
	}
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
	var kick *widget.Button
	kick = widget.NewButtonWithIcon("Disconnect", theme.LogoutIcon(), func() {
		kick.Disable()
		t.u.call(func(ctx context.Context) func() {
			err := t.u.api.Kick(ctx, s.JID)
			return func() {
				if err != nil {
					kick.Enable()
					t.u.showError(describe("cannot disconnect "+s.JID, err))
				}
				// Done: the session-down event reloads the list.
			}
		})
	})
	kick.Importance = widget.LowImportance
	return container.NewBorder(nil, nil, widget.NewIcon(icon), kick,
		container.New(layout.NewCustomPaddedVBoxLayout(-2*theme.Padding()), jid, info))
}

// connectAddress says what to type into a client whose automatic
// discovery (SRV records, mDNS) fails: the host (the LAN addresses, IPv4
// first, one a line, where the server knows them; a phone without mDNS
// cannot resolve a .local name) and the client ports.
func connectAddress(info admin.Info) (host, ports string) {
	host = info.Domain
	if len(info.LAN.Addresses) > 0 {
		host = strings.Join(info.LAN.Addresses, "\n")
	}
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

// lanNameText says how the server is found by name on the LAN: the
// mDNS announcement's state, with the reason when it is not announced.
func lanNameText(info admin.Info) string {
	lan := info.LAN
	switch {
	case lan.Announced:
		return fmt.Sprintf("Devices on this network that look for local names also find it as %s.", lan.Name)
	case lan.Reason != "":
		return "It is not announced on this network by name (mDNS): " + lan.Reason + ". Type the address above."
	}
	return ""
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

// certSection is the part of the Overview that helps a person trust the
// server from a device: where the certificates come from, the home CA's
// page as a QR code, the fingerprints to compare, and what went wrong
// when getting a certificate failed.
type certSection struct {
	content fyne.CanvasObject

	mode    *widget.Label
	problem *widget.Label // why the last attempt failed; hidden when none

	page    *fyne.Container // how to trust, the QR code, the address
	qr      *canvas.Image
	qrURL   string // what qr encodes
	pageURL *widget.Label

	caRows       []fyne.CanvasObject // hidden when the home CA serves no one
	caSHA256     *fingerprintRow
	caSHA1       *fingerprintRow
	serverSHA256 *fingerprintRow
	serverSHA1   *fingerprintRow
	sha1Row      []fyne.CanvasObject // the server's, hidden while it has none
	issuerRow    []fyne.CanvasObject
	issuer       *widget.Label
	untilRow     []fyne.CanvasObject
	until        *widget.Label
}

// qrSize is about how wide the QR code shows, in Fyne units.
const qrSize = 160

func newCertSection(u *UI) *certSection {
	c := &certSection{}
	c.mode = wrapped("")
	c.problem = wrapped("")
	c.problem.Importance = widget.WarningImportance
	c.problem.Hide()

	c.qr = canvas.NewImageFromImage(nil)
	c.qr.FillMode = canvas.ImageFillContain
	c.qr.ScaleMode = canvas.ImageScalePixels // crisp modules, easier to scan
	c.qr.SetMinSize(fyne.NewSize(qrSize, qrSize))
	c.pageURL = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	c.pageURL.Selectable = true
	c.page = container.NewVBox(
		wrapped("Each device trusts this server once: scan this code with the phone's camera, "+
			"or open the address below in its browser, and install the certificate there."),
		container.NewCenter(c.qr),
		c.pageURL,
	)
	c.page.Hide()

	c.caSHA256 = newFingerprintRow(u)
	c.caSHA1 = newFingerprintRow(u)
	c.serverSHA256 = newFingerprintRow(u)
	c.serverSHA1 = newFingerprintRow(u)
	c.issuer = widget.NewLabel("")
	c.issuer.Wrapping = fyne.TextWrapWord
	c.until = widget.NewLabel("")
	c.caRows = []fyne.CanvasObject{
		key("Home CA SHA-256"), c.caSHA256.content,
		key("Home CA SHA-1"), c.caSHA1.content,
	}
	c.issuerRow = []fyne.CanvasObject{key("Issued by"), c.issuer}
	c.untilRow = []fyne.CanvasObject{key("Valid until"), c.until}
	c.sha1Row = []fyne.CanvasObject{key("Server SHA-1"), c.serverSHA1.content}
	rows := slices.Concat(c.caRows,
		[]fyne.CanvasObject{key("Server SHA-256"), c.serverSHA256.content},
		c.sha1Row, c.issuerRow, c.untilRow)

	c.content = container.NewVBox(
		c.mode,
		c.problem,
		c.page,
		wrapped("Compare the fingerprints the device shows:"),
		container.New(layout.NewFormLayout(), rows...),
	)
	return c
}

// set shows the certificates of info; the caller lays the tab out again.
func (c *certSection) set(info admin.Info) {
	certs := info.Certificates
	leaf := admin.CertName{Name: info.Domain, SHA256: info.CertFingerprint}
	if i := slices.IndexFunc(certs.Names, func(n admin.CertName) bool { return n.Name == info.Domain }); i >= 0 {
		leaf = certs.Names[i]
		leaf.SHA256 = cmp.Or(leaf.SHA256, info.CertFingerprint)
	}

	switch certs.Mode {
	case "local":
		c.mode.SetText("Certificates come from this server's home CA.")
	case "acme":
		c.mode.SetText("Certificates come from a public certificate authority (ACME), renewed automatically.")
	case "files":
		c.mode.SetText("Certificates come from your own files.")
	default:
		c.mode.SetText("")
	}
	if servesHomeCA(certs, leaf) {
		switch certs.Mode {
		case "acme":
			c.mode.SetText(c.mode.Text + " Until the authority's certificate arrives, devices get one from this server's home CA.")
		case "files":
			c.mode.SetText(c.mode.Text + " Until your files can be used, devices get a certificate from this server's home CA.")
		}
	}
	shown(c.mode.Text != "", c.mode)

	var problems []string
	for _, n := range certs.Names {
		if p := certProblem(certs, n); p != "" {
			if n.Name == info.Domain {
				problems = slices.Insert(problems, 0, p)
			} else {
				problems = append(problems, p)
			}
		}
	}
	c.problem.SetText(strings.Join(problems, "\n\n"))
	shown(len(problems) > 0, c.problem)

	if certs.CAPage != "" {
		if certs.CAPage != c.qrURL {
			c.setQR(certs.CAPage)
		}
		c.pageURL.SetText(certs.CAPage)
	}
	shown(certs.CAPage != "", c.page)

	showCA := certs.CA.SHA256 != "" && (certs.Mode == "local" || servesHomeCA(certs, leaf))
	shown(showCA, c.caRows...)
	c.caSHA256.set(certs.CA.SHA256)
	c.caSHA1.set(certs.CA.SHA1)
	c.serverSHA256.set(leaf.SHA256)
	c.serverSHA1.set(leaf.SHA1)
	if leaf.SHA256 == "" {
		c.serverSHA256.label.SetText("no certificate yet")
	}
	shown(leaf.SHA1 != "", c.sha1Row...)

	c.issuer.SetText(leaf.Issuer)
	shown(leaf.Issuer != "" && certs.Mode != "local", c.issuerRow...)
	if leaf.NotAfter.IsZero() {
		c.until.SetText("")
	} else if time.Now().After(leaf.NotAfter) {
		c.until.SetText(leaf.NotAfter.Local().Format("2 January 2006") + " (expired)")
		c.until.Importance = widget.DangerImportance
	} else {
		c.until.SetText(leaf.NotAfter.Local().Format("2 January 2006"))
		c.until.Importance = widget.MediumImportance
	}
	shown(c.until.Text != "", c.untilRow...)
}

// setQR draws url as a QR code, each module a whole number of pixels wide
// so that it stays sharp.
func (c *certSection) setQR(url string) {
	q, err := qrcode.New(url, qrcode.Medium)
	if err != nil { // only for addresses far longer than any LAN URL
		c.qr.Image, c.qrURL = nil, ""
		c.qr.Refresh()
		return
	}
	img := q.Image(-1) // one pixel a module; the canvas scales it up
	n := float32(img.Bounds().Dx())
	side := n * max(1, float32(math.Round(float64(qrSize/n))))
	c.qr.Image, c.qrURL = img, url
	c.qr.SetMinSize(fyne.NewSize(side, side))
	c.qr.Refresh()
}

// servesHomeCA reports whether leaf, in a mode other than local, comes
// from the home CA standing in for the mode's own certificate.
func servesHomeCA(c admin.Certificates, leaf admin.CertName) bool {
	return c.Mode != "local" && c.Mode != "" && c.CA.Subject != "" && leaf.Issuer == c.CA.Subject
}

// certProblem says in plain words why n has no fresh certificate and what
// happens meanwhile, or "" when its last attempt went well.
func certProblem(c admin.Certificates, n admin.CertName) string {
	if n.LastError == "" {
		return ""
	}
	why := strings.TrimRight(n.LastError, ". ")
	if c.Mode == "files" {
		// The error says already that the old certificate is still served.
		return fmt.Sprintf("The certificate files for %s cannot be used: %s. Hearth reads them again when they change.", n.Name, why)
	}
	if n.SHA256 == "" {
		return fmt.Sprintf("The certificate for %s could not be obtained: %s. Devices cannot connect to it securely yet; Hearth tries again by itself.", n.Name, why)
	}
	if servesHomeCA(c, n) {
		return fmt.Sprintf("The certificate for %s could not be obtained: %s. Meanwhile devices get a certificate from this server's home CA; Hearth tries again by itself.", n.Name, why)
	}
	meanwhile := "Meanwhile devices get the last good certificate"
	if !n.NotAfter.IsZero() {
		meanwhile += ", valid until " + n.NotAfter.Local().Format("2 January 2006")
	}
	return fmt.Sprintf("The certificate for %s could not be renewed: %s. %s; Hearth tries again by itself.", n.Name, why, meanwhile)
}

// fingerprintRow is a fingerprint, grouped for reading, with a button
// that copies it whole.
type fingerprintRow struct {
	label   *widget.Label
	copy    *widget.Button
	content fyne.CanvasObject
	value   string
}

func newFingerprintRow(u *UI) *fingerprintRow {
	r := &fingerprintRow{}
	r.label = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	r.label.Selectable = true
	r.copy = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		if r.value != "" {
			u.app.Clipboard().SetContent(r.value)
		}
	})
	r.copy.Importance = widget.LowImportance
	r.content = container.NewBorder(nil, nil, nil, container.NewVBox(r.copy), r.label)
	return r
}

func (r *fingerprintRow) set(fp string) {
	r.value = fp
	r.label.SetText(groupFingerprint(fp))
	if fp == "" {
		r.copy.Disable()
	} else {
		r.copy.Enable()
	}
}

// shown shows or hides objects.
func shown(show bool, objects ...fyne.CanvasObject) {
	for _, o := range objects {
		if show {
			o.Show()
		} else {
			o.Hide()
		}
	}
}
