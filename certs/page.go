package certs

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	ttemplate "text/template"
)

// The CA page: in local mode family devices trust the home CA once, from a
// page on the LAN served over plain HTTP (they cannot check a certificate
// they do not trust yet; they compare the fingerprints with what the Hearth
// window shows instead). It serves the CA certificate as PEM and DER, an
// iOS configuration profile, and nothing else: no key, no account, no
// other file.

// Paths of the CA page.
const (
	PagePEM          = "/hearth-ca.pem"
	PageDER          = "/hearth-ca.crt"
	PageMobileConfig = "/hearth-ca.mobileconfig"
)

// Page returns the CA page's handler.
func (m *Manager) Page() http.Handler {
	i := info(m.ca.cert)
	b, _ := pem.Decode(m.ca.certPEM)
	der := b.Bytes
	profile := mobileConfig(m.cfg.Domain, der)
	var page bytes.Buffer
	if err := pageTemplate.Execute(&page, struct {
		Domain, SHA256, SHA1           string
		PEM, DER, MobileConfig, Expiry string
	}{m.cfg.Domain, i.SHA256, i.SHA1, PagePEM, PageDER, PageMobileConfig, i.NotAfter.Format("2 January 2006")}); err != nil {
		panic(err) // the template is ours and its data plain strings
	}
	files := map[string]struct {
		body  []byte
		ctype string
		name  string
	}{
		"/":              {page.Bytes(), "text/html; charset=utf-8", ""},
		PagePEM:          {m.ca.certPEM, "application/x-pem-file", "hearth-ca.pem"},
		PageDER:          {der, "application/x-x509-ca-cert", "hearth-ca.crt"},
		PageMobileConfig: {profile, "application/x-apple-aspen-config", "hearth-ca.mobileconfig"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		switch {
		case !ok:
			http.NotFound(w, r)
			return
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET here", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		if f.name != "" {
			h.Set("Content-Disposition", `attachment; filename="`+f.name+`"`)
		} else {
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		}
		w.Write(f.body)
	})
}

// mobileConfig is an iOS and macOS configuration profile that installs the
// CA certificate as a root (com.apple.security.root). Its UUIDs follow
// from the certificate, so the same CA always gives the same profile.
func mobileConfig(domain string, der []byte) []byte {
	sum := sha256.Sum256(der)
	uuid := func(salt byte) string {
		h := sha256.Sum256(append([]byte{salt}, sum[:]...))
		h[6] = h[6]&0x0f | 0x50 // version 5 style: derived from a name
		h[8] = h[8]&0x3f | 0x80
		return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16]))
	}
	var b bytes.Buffer
	if err := plistTemplate.Execute(&b, struct {
		Domain, Cert, CertUUID, ProfileUUID string
	}{domain, base64.StdEncoding.EncodeToString(der), uuid(1), uuid(2)}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

var plistTemplate = ttemplate.Must(ttemplate.New("plist").Funcs(ttemplate.FuncMap{"x": ttemplate.HTMLEscapeString}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>PayloadContent</key>
	<array>
		<dict>
			<key>PayloadCertificateFileName</key>
			<string>hearth-ca.cer</string>
			<key>PayloadContent</key>
			<data>{{.Cert}}</data>
			<key>PayloadDescription</key>
			<string>Lets this device check that it talks to the Hearth chat server of {{x .Domain}}.</string>
			<key>PayloadDisplayName</key>
			<string>Hearth home CA for {{x .Domain}}</string>
			<key>PayloadIdentifier</key>
			<string>org.hearth.ca.{{.CertUUID}}</string>
			<key>PayloadType</key>
			<string>com.apple.security.root</string>
			<key>PayloadUUID</key>
			<string>{{.CertUUID}}</string>
			<key>PayloadVersion</key>
			<integer>1</integer>
		</dict>
	</array>
	<key>PayloadDescription</key>
	<string>Trust the home chat server {{x .Domain}}.</string>
	<key>PayloadDisplayName</key>
	<string>Hearth on {{x .Domain}}</string>
	<key>PayloadIdentifier</key>
	<string>org.hearth.profile.{{.ProfileUUID}}</string>
	<key>PayloadRemovalDisallowed</key>
	<false/>
	<key>PayloadType</key>
	<string>Configuration</string>
	<key>PayloadUUID</key>
	<string>{{.ProfileUUID}}</string>
	<key>PayloadVersion</key>
	<integer>1</integer>
</dict>
</plist>
`))

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Trust {{.Domain}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:1em auto;padding:0 1em;line-height:1.5}
code{word-break:break-all;font-size:.9em}a.button{display:inline-block;padding:.6em 1em;margin:.3em 0;border-radius:.4em;background:#c2410c;color:#fff;text-decoration:none}</style>
</head><body>
<h1>Trust the chat server {{.Domain}}</h1>
<p>This device needs to trust this home server's certificate authority once; then chat apps
connect to {{.Domain}} without warnings. First check that these fingerprints match the ones
the Hearth window shows on the computer that runs it:</p>
<p>SHA-256 <code>{{.SHA256}}</code><br>SHA-1 <code>{{.SHA1}}</code></p>
<h2>iPhone and iPad</h2>
<p><a class="button" href="{{.MobileConfig}}">Download the profile</a><br>
Then open Settings, tap "Profile Downloaded" and Install. Last, in Settings, General, About,
Certificate Trust Settings, switch on full trust for "Hearth home CA for {{.Domain}}".</p>
<h2>Android</h2>
<p><a class="button" href="{{.DER}}">Download the certificate</a><br>
Then open Settings, Security, Encryption and credentials, Install a certificate, CA certificate,
and choose the downloaded file.</p>
<h2>Computers</h2>
<p><a class="button" href="{{.PEM}}">Download the certificate (PEM)</a><br>
Add it to the system's or the chat app's trusted certificates.</p>
<p>The authority is valid until {{.Expiry}}. It can only vouch for this server's names.</p>
<h2>Invited?</h2>
<p>If someone at home sent you an invitation, open its link again once this device trusts the
server: the invitation pages are on this address too, under <code>/invite/</code>.</p>
</body></html>
`))
