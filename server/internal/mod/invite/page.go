package invite

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/skip2/go-qrcode"

	"hearth/server/internal/web"
	"hearth/storage"
)

// Routes serves the landing page on the HTTPS listener.
func (m *Module) Routes(mux *web.Mux) {
	mux.Handle("GET "+PagePath+"{token}", m.Page(false))
}

// QR is a QR code of s as a PNG image (medium error correction: it
// still scans from a screen with glare).
func QR(s string, size int) ([]byte, error) {
	return qrcode.Encode(s, qrcode.Medium, size)
}

// client is a chat app the page suggests.
type client struct{ Name, URL, Note string }

// platform is a list of apps for one kind of device.
type platform struct {
	Name    string
	Clients []client
}

// platforms are the apps the page suggests: well-kept clients that open
// invitation links (XEP-0401) and register with them (XEP-0445).
var platforms = []platform{
	{"Android", []client{
		{"Conversations", "https://f-droid.org/packages/eu.siacs.conversations/", "free on F-Droid, paid on Google Play"},
		{"Monocles Chat", "https://f-droid.org/packages/de.monocles.chat/", "on F-Droid"},
	}},
	{"iPhone and iPad", []client{
		{"Monal", "https://monal-im.org/", "on the App Store"},
		{"Siskin IM", "https://siskin.im/", "on the App Store"},
	}},
	{"Computers (Linux, Windows, macOS)", []client{
		{"Gajim", "https://gajim.org/", "Windows and Linux"},
		{"Dino", "https://dino.im/", "Linux"},
	}},
}

// pageData is what the landing page shows.
type pageData struct {
	Domain  string
	Title   string
	Lead    string
	URI     template.URL // the xmpp: URI (html/template would refuse the scheme)
	URIText string
	Link    string // this page's address, to copy
	QR      template.URL
	Expires string
	CAPage  string // where a device trusts the home CA first ("" for none)
	Problem string // why the invitation cannot be used ("" when it can)
	Advice  string
	Apps    []platform
}

// Page is the landing page handler for PagePath+TOKEN. lan: served on the
// LAN's plain-HTTP CA page, whose own root is the CA page.
func (m *Module) Page(lan bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET here", http.StatusMethodNotAllowed)
			return
		}
		d := pageData{Domain: m.d.Domain, Apps: platforms, CAPage: m.d.CAPage}
		if lan {
			d.CAPage = "/"
		}
		status := http.StatusOK
		token, err := ParseToken(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, PagePath), "/"))
		var i storage.Invite
		if err == nil {
			i, err = m.d.DB.Invite(r.Context(), token)
		}
		if err == nil {
			err = i.Check(m.d.Now())
		}
		switch {
		case err == nil && lan && i.Kind == storage.InviteReset:
			// A reset hands over an account: not over plain HTTP.
			status = http.StatusForbidden
			d.Title = "Open this link over a secure connection"
			d.Problem = "A new password is never set up through this page of the local network, where others could read it."
			d.Advice = "Open the https:// link of the invitation instead, or ask the person who made it to send that one."
		case err == nil:
			m.fill(&d, i, r)
		case errors.Is(err, storage.ErrInviteExpired):
			status = http.StatusGone
			d.Title = "This invitation has expired"
			d.Problem = "The invitation ran out on " + i.Expires.Local().Format("2 January 2006 at 15:04") + "."
			d.Advice = "Ask the person who invited you to send a new one."
		case errors.Is(err, storage.ErrInviteUsed):
			status = http.StatusGone
			d.Title = "This invitation has already been used"
			d.Problem = "Everyone it was meant for has used it."
			d.Advice = "If you used it yourself, open your chat app: your account is there. Otherwise ask the person who invited you for a new one."
		case errors.Is(err, storage.ErrNotFound) || errors.Is(err, ErrToken):
			status = http.StatusNotFound
			d.Title = "This invitation is not known here"
			d.Problem = "It may have been cancelled, or the link was cut short when it was copied."
			d.Advice = "Check that you opened the whole link, or ask the person who invited you to send it again."
		default:
			m.d.Log.Warn("invitation page not shown", "err", err)
			http.Error(w, "the invitation could not be read; try again in a moment", http.StatusInternalServerError)
			return
		}
		var b bytes.Buffer
		if err := pageTemplate.Execute(&b, d); err != nil {
			m.d.Log.Warn("invitation page not made", "err", err)
			http.Error(w, "the page could not be made; try again in a moment", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the token is in the address
		h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'")
		w.WriteHeader(status)
		w.Write(b.Bytes())
	})
}

// fill puts a usable invitation on the page.
func (m *Module) fill(d *pageData, i storage.Invite, r *http.Request) {
	u := URIFor(i, m.d.Domain)
	d.URIText = u.String()
	d.URI = template.URL(d.URIText)
	scheme := "https://"
	if r.TLS == nil {
		scheme = "http://"
	}
	d.Link = scheme + r.Host + r.URL.Path
	if png, err := QR(d.URIText, 320); err == nil {
		d.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
	d.Expires = i.Expires.Local().Format("2 January 2006")
	inviter := i.Inviter + "@" + m.d.Domain
	switch i.Kind {
	case storage.InviteContact:
		d.Title = inviter + " invites you to chat"
		d.Lead = "Add " + inviter + " as a contact in your chat app: you will see each other at once, no need to wait for an answer."
	case storage.InviteAccountContact:
		d.Title = inviter + " invites you to chat on " + m.d.Domain
		d.Lead = "Make an account on " + m.d.Domain + " with your chat app, or use the one you have: you and " + inviter + " become contacts at once."
	case storage.InviteReset:
		d.Title = "Set a new password for " + i.User + "@" + m.d.Domain
		d.Lead = "Open this with your chat app and choose a new password for the account."
	default:
		d.Title = "You are invited to " + m.d.Domain
		d.Lead = "Make an account on the home chat server " + m.d.Domain + " with your chat app."
		if i.User != "" {
			d.Lead = "Make the account " + i.User + "@" + m.d.Domain + " on the home chat server with your chat app."
		}
	}
}

var pageTemplate = template.Must(template.New("invite").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:1em auto;padding:0 1em;line-height:1.5;color:#1c1917;background:#fff}
code{word-break:break-all;font-size:.9em;background:#f5f5f4;padding:.1em .3em}a.button{display:inline-block;padding:.7em 1.1em;margin:.3em 0;border-radius:.4em;background:#c2410c;color:#fff;text-decoration:none;font-weight:600}
a.button:focus,a:focus{outline:3px solid #1d4ed8;outline-offset:2px}img.qr{width:16em;height:16em;image-rendering:pixelated;border:1px solid #d6d3d1}
ol>li{margin-bottom:1em}</style>
</head><body>
<main>
<h1>{{.Title}}</h1>
{{if .Problem}}
<p id="problem">{{.Problem}}</p>
<p id="advice"><strong>What to do:</strong> {{.Advice}}</p>
{{else}}
<p>{{.Lead}}</p>
<ol>
{{if .CAPage}}<li><p><strong>First, on a phone or computer at home:</strong> make it trust this home server once.
<a id="ca-page" href="{{.CAPage}}">Open the page that does that</a>, then come back to this invitation.</p></li>{{end}}
<li><p><strong>Get a chat app</strong> if you have none yet:</p>
{{range .Apps}}<h2>{{.Name}}</h2>
<ul>{{range .Clients}}<li><a href="{{.URL}}">{{.Name}}</a> ({{.Note}})</li>{{end}}</ul>
{{end}}</li>
<li><p><strong>Open the invitation</strong> on the device that has the app:</p>
<p><a class="button" id="open" href="{{.URI}}">Open in your chat app</a></p>
<p>On another device, scan this code with the chat app:</p>
{{if .QR}}<p><img class="qr" id="qr" src="{{.QR}}" alt="QR code of the invitation: scan it with your chat app"></p>{{end}}
<p>Or copy the invitation into the chat app: <code id="uri">{{.URIText}}</code></p></li>
</ol>
<p>The invitation is valid until {{.Expires}}. Its link: <code id="link">{{.Link}}</code></p>
{{end}}
<p>This is the home chat server <strong>{{.Domain}}</strong>, run with Hearth.</p>
</main>
</body></html>
`))
