package gui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// healthSection is the Overview's card with one line per part of the
// server: the database, the certificates, the LAN announcement, logins,
// federation, and calls (STUN/TURN).
type healthSection struct {
	u    *UI
	card *widget.Card

	database   *widget.Label
	certs      *widget.Label
	lan        *widget.Label
	logins     *widget.Label
	federation *widget.Label
	calls      *widget.Label

	checked atomic.Bool // the database has been checked
}

// certDueSoon is how close to its end a certificate shows as due.
const certDueSoon = 7 * 24 * time.Hour

func newHealthSection(u *UI) *healthSection {
	h := &healthSection{u: u}
	h.database, h.certs, h.lan, h.logins, h.federation = wrapped("…"), wrapped("…"), wrapped("…"), wrapped("…"), wrapped("…")
	h.calls = wrapped("…")
	h.card = widget.NewCard("Health", "", container.New(layout.NewFormLayout(),
		key("Database"), h.database,
		key("Certificates"), h.certs,
		key("LAN"), h.lan,
		key("Logins"), h.logins,
		key("Federation"), h.federation,
		key("Calls"), h.calls,
	))
	return h
}

// checkDatabase checks the database the first time the server is seen
// running (SQLite's quick check reads all of it: once is enough for a
// line of health). It runs in the background, where the info was loaded,
// and returns what to apply, or nil.
func (h *healthSection) checkDatabase(ctx context.Context, info admin.Info) func() {
	if !info.Running || h.checked.Swap(true) {
		return nil
	}
	problems, err := h.u.api.CheckDatabase(ctx)
	if err != nil {
		h.checked.Store(false) // again with the next info
	}
	return func() { h.setDatabase(problems, err, time.Now()) }
}

// set shows the health lines of info.
func (h *healthSection) set(info admin.Info) {
	if !info.Running {
		say(h.database, "the server is not running", widget.WarningImportance)
	}
	text, importance := certHealth(info, time.Now())
	say(h.certs, text, importance)
	text, importance = lanHealth(info.LAN)
	say(h.lan, text, importance)
	text, importance = loginHealth(info.Logins)
	say(h.logins, text, importance)
	text, importance = federationHealth(info)
	say(h.federation, text, importance)
	text, importance = callsHealth(info)
	say(h.calls, text, importance)
}

func (h *healthSection) setDatabase(problems []string, err error, at time.Time) {
	switch {
	case err != nil:
		say(h.database, describe("could not be checked", err).Error(), widget.WarningImportance)
	case len(problems) > 0:
		say(h.database, fmt.Sprintf("damaged: the check found %d problems; hearth status --check lists them", len(problems)), widget.DangerImportance)
	default:
		say(h.database, "ok (checked at "+at.Local().Format("15:04")+")", widget.SuccessImportance)
	}
}

// say sets a health line.
func say(l *widget.Label, text string, importance widget.Importance) {
	l.SetText(text)
	l.Importance = importance
	l.Refresh()
}

// certHealth is the certificates' line: the domain's certificate, and
// any name whose last attempt failed.
func certHealth(info admin.Info, now time.Time) (string, widget.Importance) {
	c := info.Certificates
	if c.Mode == "" {
		return "unknown", widget.MediumImportance
	}
	var failed []string
	for _, n := range c.Names {
		if n.LastError != "" {
			failed = append(failed, n.Name)
		}
	}
	i := slices.IndexFunc(c.Names, func(n admin.CertName) bool { return n.Name == info.Domain })
	switch {
	case i < 0 || c.Names[i].SHA256 == "":
		return "no certificate for " + info.Domain + " yet: devices cannot connect securely", widget.DangerImportance
	case now.After(c.Names[i].NotAfter):
		return "the certificate for " + info.Domain + " has expired", widget.DangerImportance
	case len(failed) > 0:
		return "could not get a certificate for " + strings.Join(failed, ", ") + "; see Connect a family device", widget.WarningImportance
	case c.Names[i].NotAfter.Sub(now) < certDueSoon:
		return "ok, but it ends on " + c.Names[i].NotAfter.Local().Format("2 January") + " and is not renewed yet", widget.WarningImportance
	}
	return "ok, valid until " + c.Names[i].NotAfter.Local().Format("2 January 2006"), widget.SuccessImportance
}

// lanHealth is the LAN announcement's line.
func lanHealth(lan admin.LANStatus) (string, widget.Importance) {
	switch {
	case lan.Announced:
		return "announced as " + lan.Name, widget.SuccessImportance
	case strings.HasPrefix(lan.Reason, "the announcement failed"):
		return "not announced: " + lan.Reason, widget.DangerImportance
	case lan.Reason != "":
		return "not announced: " + lan.Reason, widget.MediumImportance
	case lan.Name != "":
		return "announcing…", widget.MediumImportance
	}
	return "unknown", widget.MediumImportance
}

// loginHealth is the logins' line: failures, and addresses made to wait.
func loginHealth(l admin.LoginStats) (string, widget.Importance) {
	failed := fmt.Sprintf("%d failed since the start", l.Failed)
	if l.Failed == 1 {
		failed = "1 failed since the start"
	}
	switch {
	case l.ThrottledAddresses == 1:
		return "1 address must wait after too many wrong passwords (" + failed + ")", widget.WarningImportance
	case l.ThrottledAddresses > 1:
		return fmt.Sprintf("%d addresses must wait after too many wrong passwords (%s)", l.ThrottledAddresses, failed), widget.WarningImportance
	case l.Failed > 0:
		return "ok, " + failed, widget.MediumImportance
	}
	return "ok, none failed since the start", widget.SuccessImportance
}
