package extdisco

import (
	"strconv"

	"hearth/server/internal/stanza"
)

// request is a services or credentials request (XEP-0215 3.1, 3.2, 3.3).
type request struct {
	name string // services or credentials
	// typ filters by type ("" all); host and port pick the service whose
	// credentials are asked for (port 0: any).
	typ, host string
	port      int
}

// parseRequest reads the payload of a request.
func parseRequest(el *stanza.Element) (request, *stanza.Error) {
	if el == nil || el.NS != NS {
		return request{}, stanza.ErrBadRequest("no XEP-0215 request")
	}
	r := request{name: el.Name}
	switch el.Name {
	case "services":
		// XEP-0215 3.2: <services type='turn'/> asks for one type.
		r.typ = el.Attr("type")
	case "credentials":
		// XEP-0215 3.3: one <service host type [port]/>.
		svcs := el.Elements()
		if len(svcs) != 1 || svcs[0].Name != "service" || svcs[0].NS != NS {
			return request{}, stanza.ErrBadRequest("a credentials request names one service")
		}
		s := svcs[0]
		r.host, r.typ = s.Attr("host"), s.Attr("type")
		if r.host == "" || r.typ == "" {
			return request{}, stanza.ErrBadRequest("a credentials request names the service's host and type")
		}
		if p := s.Attr("port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return request{}, stanza.ErrBadRequest("the port is not a port number")
			}
			r.port = n
		}
	default:
		return request{}, stanza.ErrBadRequest("no XEP-0215 request")
	}
	return r, nil
}

// match says whether s answers the request.
func (r request) match(s Service) bool {
	if r.typ != "" && s.Type != r.typ {
		return false
	}
	if r.name == "credentials" {
		// Only restricted services have credentials to give.
		return s.Restricted && s.Host == r.host && (r.port == 0 || s.Port == r.port)
	}
	return true
}
