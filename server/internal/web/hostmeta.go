package web

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
)

// Link relations of XEP-0156 (Discovering Alternative XMPP Connection
// Methods): where a web client finds the server's WebSocket and BOSH
// endpoints.
const (
	RelWebSocket = "urn:xmpp:alt-connections:websocket"
	RelBOSH      = "urn:xmpp:alt-connections:xbosh"
)

// link is one endpoint host-meta lists: its relation and its path on the
// listener.
type link struct{ rel, path string }

// Link lists the route at path in host-meta under the relation rel
// (RelWebSocket, RelBOSH). Like Handle, it panics once the listener
// serves.
func (m *Mux) Link(rel, path string) {
	if m.s.started.Load() {
		panic("web: link " + path + " added after the listener started")
	}
	m.s.links = append(m.s.links, link{rel, path})
}

// hostMetaLinks returns the endpoints with their addresses as clients
// reach them now: under BaseURL (http.public_url is live), WebSocket's
// with the scheme wss (ws behind a plain-HTTP public URL).
func (s *Server) hostMetaLinks() []jrdLink {
	base := s.BaseURL()
	if base == "" {
		return nil
	}
	out := make([]jrdLink, 0, len(s.links))
	for _, l := range s.links {
		href := base + l.path
		if l.rel == RelWebSocket {
			switch {
			case strings.HasPrefix(href, "https://"):
				href = "wss://" + strings.TrimPrefix(href, "https://")
			case strings.HasPrefix(href, "http://"):
				href = "ws://" + strings.TrimPrefix(href, "http://")
			}
		}
		out = append(out, jrdLink{Rel: l.rel, Href: href})
	}
	return out
}

type jrdLink struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// serveHostMeta answers /.well-known/host-meta (RFC 6415's XRD) and
// /.well-known/host-meta.json (its JRD form) with the endpoints. XEP-0156
// 3.2 asks for CORS: a web client on any origin reads them.
func (s *Server) serveHostMeta(asJSON bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		links := s.hostMetaLinks()
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cache-Control", "max-age=3600")
		var b bytes.Buffer
		if asJSON {
			h.Set("Content-Type", "application/json")
			_ = json.NewEncoder(&b).Encode(struct {
				Links []jrdLink `json:"links"`
			}{Links: append([]jrdLink{}, links...)})
		} else {
			h.Set("Content-Type", "application/xrd+xml; charset=utf-8")
			b.WriteString(xml.Header)
			b.WriteString(`<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">` + "\n")
			for _, l := range links {
				b.WriteString(`  <Link rel="`)
				_ = xml.EscapeText(&b, []byte(l.Rel))
				b.WriteString(`" href="`)
				_ = xml.EscapeText(&b, []byte(l.Href))
				b.WriteString("\"/>\n")
			}
			b.WriteString("</XRD>\n")
		}
		_, _ = w.Write(b.Bytes())
	}
}
