package invite

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"

	"hearth/storage"
)

// tokenBytes is the randomness of a token: 144 bits, 24 characters.
const tokenBytes = 18

// Bounds of a token as Hearth reads one: its own are 24 characters;
// anything much shorter or longer was mistyped or cut.
const (
	minToken = 16
	maxToken = 64
)

// ErrToken is what ParseToken gives for a string that is no token.
var ErrToken = errors.New("this is not an invitation token: it should be letters, digits, - and _ (24 of them)")

// NewToken returns a new random token (unpadded base64url).
func NewToken() string {
	var b [tokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseToken checks that s can be a token: 16 to 64 characters of the
// base64url alphabet. It says nothing of whether one was issued.
func ParseToken(s string) (string, error) {
	if len(s) < minToken || len(s) > maxToken {
		return "", ErrToken
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", ErrToken
		}
	}
	return s, nil
}

// Actions of an invitation URI (XEP-0147 query types).
const (
	ActionRoster   = "roster"   // XEP-0379: add the contact, with the token
	ActionRegister = "register" // XEP-0401, XEP-0445: make an account with the token
)

// URI is an xmpp: invitation URI (XEP-0147, XEP-0379, XEP-0401):
// xmpp:romeo@example.org?roster;preauth=TOKEN;ibr=y or
// xmpp:example.org?register;preauth=TOKEN.
type URI struct {
	JID     string // the contact, the account to register, or only the domain
	Action  string // ActionRoster or ActionRegister
	Preauth string // the token
	Name    string // roster: a name for the contact ("" for none)
	IBR     bool   // roster: the token also makes an account (XEP-0401 ibr=y)
}

// String writes the URI, escaping as RFC 5122 and XEP-0147 ask.
func (u URI) String() string {
	var b strings.Builder
	b.WriteString("xmpp:")
	b.WriteString(escapeJID(u.JID))
	b.WriteString("?")
	b.WriteString(u.Action)
	if u.Preauth != "" {
		b.WriteString(";preauth=" + url.QueryEscape(u.Preauth))
	}
	if u.Name != "" {
		b.WriteString(";name=" + strings.ReplaceAll(url.QueryEscape(u.Name), "+", "%20"))
	}
	if u.IBR {
		b.WriteString(";ibr=y")
	}
	return b.String()
}

// escapeJID percent-encodes what RFC 5122 2.2 does not allow in a JID in
// a URI (its path may keep @ and the unreserved characters).
func escapeJID(j string) string {
	var b strings.Builder
	for i := 0; i < len(j); i++ {
		c := j[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~@!$()*+,=:", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
	}
	return b.String()
}

// ErrURI is what ParseURI gives for a string that is no invitation URI.
var ErrURI = errors.New("this is not an xmpp: invitation address (xmpp:NAME@DOMAIN?roster;preauth=... or xmpp:DOMAIN?register;preauth=...)")

// ParseURI reads an invitation URI. Keys it does not know are skipped
// (XEP-0147 lets URIs carry others); a URI without a valid token is
// refused.
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, "xmpp:")
	if !ok {
		return URI{}, ErrURI
	}
	path, query, ok := strings.Cut(rest, "?")
	if !ok || path == "" || strings.HasPrefix(path, "//") {
		return URI{}, ErrURI // no action, or an authority component (RFC 5122 2.3) we do not follow
	}
	j, err := url.PathUnescape(path)
	if err != nil || j == "" || strings.ContainsAny(j, "?/#") && !strings.Contains(j, "@") {
		return URI{}, ErrURI
	}
	u := URI{JID: j}
	query, _, _ = strings.Cut(query, "#")
	parts := strings.Split(query, ";")
	u.Action = parts[0]
	if u.Action != ActionRoster && u.Action != ActionRegister {
		return URI{}, ErrURI
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(p, "=")
		v, err := url.QueryUnescape(v)
		if err != nil {
			return URI{}, ErrURI
		}
		switch k {
		case "preauth":
			u.Preauth = v
		case "name":
			u.Name = v
		case "ibr":
			u.IBR = v == "y"
		}
	}
	if _, err := ParseToken(u.Preauth); err != nil {
		return URI{}, err
	}
	return u, nil
}

// PagePath is where the landing page of a token is, on the HTTPS
// listener and the LAN's CA page: PagePath + token.
const PagePath = "/invite/"

// TokenFrom finds the token in what someone pasted: the token itself,
// the landing page's link (https://…/invite/TOKEN) or the xmpp: URI.
func TokenFrom(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "xmpp:"):
		u, err := ParseURI(s)
		if err != nil {
			return "", err
		}
		return u.Preauth, nil
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		l, err := url.Parse(s)
		if err != nil {
			return "", ErrToken
		}
		t, ok := strings.CutPrefix(l.Path, PagePath)
		if !ok {
			return "", ErrToken
		}
		return ParseToken(strings.TrimSuffix(t, "/"))
	}
	return ParseToken(s)
}

// URIFor is the xmpp: URI of an invitation on domain: a contact
// invitation names the inviter (XEP-0379, with ibr=y when it also makes
// an account, XEP-0401 5), an account invitation the domain or the name
// kept (XEP-0445 2), a reset the account.
func URIFor(i storage.Invite, domain string) URI {
	u := URI{Preauth: i.Token, Action: ActionRegister, JID: domain}
	switch {
	case i.Contact() && i.Inviter != "":
		u.Action, u.JID, u.IBR = ActionRoster, i.Inviter+"@"+domain, i.NewAccount()
	case i.User != "":
		u.JID = i.User + "@" + domain
	}
	return u
}

// Link is the landing page's address under base (the HTTPS listener's
// address, or the LAN's CA page).
func Link(base, token string) string {
	return strings.TrimRight(base, "/") + PagePath + token
}
