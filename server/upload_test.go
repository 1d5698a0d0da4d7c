package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestUpload walks XEP-0363 over the real listeners: the service is in
// the server's disco items with its limit, alice asks for a slot over
// XMPP, puts the file over HTTPS, and bob gets it with the URL; the
// listener refuses paths outside the store and forged slots.
func TestUpload(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	if _, err := srv.Admin.SetSetting(context.Background(), settings.KeyUploadMaxFile, "4096"); err != nil {
		t.Fatal(err)
	}
	alice := srv.Login(t, "alice", "silver-kettle-pw", "pc")
	c := map[string]*xmpptest.Client{"alice": alice}
	xmpptest.Play(t, c, `
alice sends: <iq type='get' id='i1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
alice receives: <iq type='result' id='i1' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='conference.hearth.test'/><item jid='pubsub.hearth.test'/><item jid='upload.hearth.test'/></query></iq>
alice sends: <iq type='get' id='i2' to='upload.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
alice receives: <iq type='result' id='i2' from='upload.hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#info'><identity category='store' type='file' name='HTTP File Upload'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='urn:xmpp:http:upload:0'/><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:http:upload:0</value></field><field var='max-file-size'><value>4096</value></field></x></query></iq>
alice sends: <iq type='get' id='i3' to='upload.hearth.test'><request xmlns='urn:xmpp:http:upload:0' filename='big.jpg' size='4097' content-type='image/jpeg'/></iq>
alice receives: <iq type='error' id='i3' from='upload.hearth.test' to='alice@hearth.test/pc'><request xmlns='urn:xmpp:http:upload:0' filename='big.jpg' size='4097' content-type='image/jpeg'/><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>File too large. The maximum file size is 4096 bytes (4 KiB).</text><file-too-large xmlns='urn:xmpp:http:upload:0'><max-file-size>4096</max-file-size></file-too-large></error></iq>`)

	body := bytes.Repeat([]byte("kettle "), 500)
	alice.Send(`<iq type='get' id='i4' to='upload.hearth.test'><request xmlns='urn:xmpp:http:upload:0' filename='../../tea time.txt' size='3500' content-type='text/plain'/></iq>`)
	res := alice.Expect(`<iq type='result' id='i4' from='upload.hearth.test' to='alice@hearth.test/pc'><slot xmlns='urn:xmpp:http:upload:0'>*</slot></iq>`)
	slot := res.FirstElement()
	put := slot.Child("put", "urn:xmpp:http:upload:0").Attr("url")
	get := slot.Child("get", "urn:xmpp:http:upload:0").Attr("url")
	_, port, _ := net.SplitHostPort(srv.HTTPAddr)
	if !strings.HasPrefix(get, "https://hearth.test:"+port+"/upload/") || !strings.HasSuffix(get, "/tea%20time.txt") {
		t.Fatalf("get URL %s", get)
	}
	hc := srv.HTTPClient()
	do := func(method, url string, body []byte, ct string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	// A forged signature: 403, and the slot stays good.
	forged := strings.Replace(put, "sig=", "sig=A", 1)
	forged = forged[:len(forged)-1]
	if r := do("PUT", forged, body, "text/plain"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("forged PUT: %s", r.Status)
	}
	if r := do("PUT", put, body, "text/plain"); r.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(r.Body)
		t.Fatalf("PUT: %s %s", r.Status, b)
	}
	if r := do("PUT", put, body, "text/plain"); r.StatusCode != http.StatusConflict {
		t.Fatalf("second PUT: %s", r.Status)
	}
	// bob, or anyone with the URL, gets the same bytes.
	r := do("GET", get, nil, "")
	got, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusOK || !bytes.Equal(got, body) {
		t.Fatalf("GET: %s, %d bytes", r.Status, len(got))
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename="tea time.txt"` {
		t.Fatalf("Content-Disposition %q", cd)
	}
	// Deleting alice deletes her files.
	if had, _ := filepath.Glob(filepath.Join(srv.DataDir, "uploads", "files", "*", "*")); len(had) != 1 {
		t.Fatalf("files stored: %v, want 1", had)
	}
	if err := srv.Admin.DeleteUser(context.Background(), "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	if r := do("GET", get, nil, ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after alice was deleted: %s", r.Status)
	}
	left, _ := filepath.Glob(filepath.Join(srv.DataDir, "uploads", "files", "*", "*"))
	if len(left) != 0 {
		t.Fatalf("files left after alice was deleted: %v", left)
	}
	base := "https://hearth.test:" + port
	for _, p := range []string{"/upload/../hearth.db", "/upload/%2e%2e/hearth.db", "/upload/..%2fhearth.db/x", "/upload/%2e%2e%2f%2e%2e%2fupload.secret/x", "/hearth.db", "/"} {
		r := do("GET", base+p, nil, "")
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusNotFound || bytes.Contains(b, []byte("SQLite")) {
			t.Errorf("GET %s: %s", p, r.Status)
		}
	}
}

// TestSlixmppUpload: slixmpp's XEP-0363 plugin (Debian's python3-slixmpp,
// with aiohttp) finds the service, uploads over HTTPS, and another
// account downloads the same bytes; over the limit is file-too-large with
// the limit; a forged slot URL is 403.
func TestSlixmppUpload(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import slixmpp.plugins.xep_0363, aiohttp").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/slixmpp/plugins/xep_0363")
		need(t, "/usr/lib/python3/dist-packages/aiohttp")
	}
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	const max = "1048576"
	if _, err := srv.Admin.SetSetting(context.Background(), settings.KeyUploadMaxFile, max); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, srv.Addr)
	runPeerEnv(t, []string{"SSL_CERT_FILE=" + srv.CertFile}, py, "xmpptest/interop/slix_upload.py", "--ca", srv.CertFile, "--max", max,
		host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}

// runPeerEnv is runPeer with more environment.
func runPeerEnv(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("%s:\n%s", filepath.Base(args[0]), out)
	if err != nil {
		t.Fatalf("%s failed: %v", strings.Join(args[:1], " "), err)
	}
}

// TestNbxmppUpload: Gajim's library (Debian's python3-nbxmpp) finds the
// service, asks for a slot with its HTTPUpload module and puts a file from
// disk with its libsoup HTTPRequest, as Gajim does; another account gets
// the same bytes; a slot over the limit is file-too-large with the limit.
// The domain is localhost, so that libsoup finds the HTTPS listener by
// the name in the URL and checks the certificate for it.
func TestNbxmppUpload(t *testing.T) {
	py := need(t, "/usr/bin/python3")
	if err := exec.Command(py, "-c", "import nbxmpp.http, nbxmpp.modules.http_upload").Run(); err != nil {
		need(t, "/usr/lib/python3/dist-packages/nbxmpp/http.py")
	}
	srv := xmpptest.StartAt(t, "localhost")
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	const max = "2097152"
	if _, err := srv.Admin.SetSetting(context.Background(), settings.KeyUploadMaxFile, max); err != nil {
		t.Fatal(err)
	}
	host, port := splitAddr(t, srv.Addr)
	runPeer(t, py, "xmpptest/interop/nbx_upload.py", "--ca", srv.CertFile, "--max", max,
		host, port, srv.Domain, "alice", "silver-kettle-pw", "bob", "copper-lantern-pw")
}

// TestUploadWithoutHTTPS: with no HTTPS listener (and no public URL) file
// upload cannot work, so the server does not list upload.<domain> in its
// items, and a slot request says what to switch on.
func TestUploadWithoutHTTPS(t *testing.T) {
	srv := xmpptest.StartWithoutHTTPS(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "pc")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <iq type='get' id='i1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
alice receives: <iq type='result' id='i1' from='hearth.test' to='alice@hearth.test/pc'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='conference.hearth.test'/><item jid='pubsub.hearth.test'/></query></iq>
alice sends: <iq type='get' id='i2' to='upload.hearth.test'><request xmlns='urn:xmpp:http:upload:0' filename='a.jpg' size='40' content-type='image/jpeg'/></iq>
alice receives: <iq type='error' id='i2' from='upload.hearth.test' to='alice@hearth.test/pc'><request xmlns='urn:xmpp:http:upload:0' filename='a.jpg' size='40' content-type='image/jpeg'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>file upload needs the server's HTTPS listener, which is off (--http)</text></error></iq>`)
}
