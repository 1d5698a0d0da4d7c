package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHostMetaLinks: the endpoints routes registered, under the address
// clients are given (wss for WebSocket), or none while nothing serves.
func TestHostMetaLinks(t *testing.T) {
	s := New(Config{Domain: "hearth.test"})
	m := s.Mux()
	m.Link(RelWebSocket, "/xmpp-websocket")
	m.Link(RelBOSH, "/http-bind")
	get := func(path string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || rec.Header().Get("Access-Control-Allow-Origin") != "*" {
			t.Fatalf("%s: %d %v", path, rec.Code, rec.Header())
		}
		return rec.Body.String()
	}
	if js := get("/.well-known/host-meta.json"); strings.TrimSpace(js) != `{"links":[]}` {
		t.Fatalf("before the listener serves: %s", js)
	}
	s.port.Store(5443)
	want := `{"links":[{"rel":"urn:xmpp:alt-connections:websocket","href":"wss://hearth.test:5443/xmpp-websocket"},{"rel":"urn:xmpp:alt-connections:xbosh","href":"https://hearth.test:5443/http-bind"}]}`
	if js := get("/.well-known/host-meta.json"); strings.TrimSpace(js) != want {
		t.Fatalf("got  %s\nwant %s", js, want)
	}
	if err := s.SetPublicURL("http://proxy.lan/xmpp"); err != nil {
		t.Fatal(err)
	}
	xrd := get("/.well-known/host-meta")
	for _, l := range []string{
		`<Link rel="urn:xmpp:alt-connections:websocket" href="ws://proxy.lan/xmpp/xmpp-websocket"/>`,
		`<Link rel="urn:xmpp:alt-connections:xbosh" href="http://proxy.lan/xmpp/http-bind"/>`,
	} {
		if !strings.Contains(xrd, l) {
			t.Fatalf("host-meta lacks %s:\n%s", l, xrd)
		}
	}
}
