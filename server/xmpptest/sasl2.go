package xmpptest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"hearth/server/internal/stanza"
)

// Namespaces of the modern login.
const (
	NSSASL2 = "urn:xmpp:sasl:2"
	NSBind2 = "urn:xmpp:bind:0"
	NSFAST  = "urn:xmpp:fast:0"
)

// SASL2 is a login the way modern clients do it (XEP-0388 SASL2, XEP-0386
// Bind 2, XEP-0484 FAST): with the password (SCRAM-SHA-256), or with a
// FAST token (an HT mechanism).
type SASL2 struct {
	// AgentID is the <user-agent/> id ("" sends none); Software and
	// Device go inside it.
	AgentID, Software, Device string
	// Bind asks for Bind 2 with Tag and Inline (raw XML inside <bind/>,
	// such as <enable xmlns='urn:xmpp:carbons:2'/>).
	Bind   bool
	Tag    string
	Inline string
	// RequestToken asks for a FAST token for this mechanism.
	RequestToken string
	// Token logs in with a FAST token and TokenMechanism
	// (HT-SHA-256-NONE if empty) instead of the password; Count (-1:
	// none) and Invalidate go in its <fast/>.
	Token          string
	TokenMechanism string
	Count          int64
	Invalidate     bool
	// Extra is raw XML added inside <authenticate/>.
	Extra string
}

// SASL2Result is how a SASL2 login ended.
type SASL2Result struct {
	// Success or Failure is the server's answer.
	Success, Failure *stanza.Element
	// Features follow a success without Bind 2.
	Features *stanza.Element
	// JID is the authorization identifier.
	JID string
	// Token and Expiry are the FAST token the server gave, if any.
	Token, Expiry string
}

// LoginSASL2 logs in over STARTTLS with SASL2. On success the client
// reads its stanzas (bound with Bind 2) or waits for the caller to bind
// (res.Features holds the features); on a failure the connection is
// closed. The client's server-side checks (the SCRAM server signature,
// the HT responder message) are done here: a wrong one is an error.
func (s *Server) LoginSASL2(t testing.TB, local, password string, req SASL2) (*Client, *SASL2Result) {
	t.Helper()
	c, res, err := LoginSASL2To(s.Endpoint(), local, password, req)
	if err != nil {
		t.Fatalf("SASL2 login %s: %v", local, err)
	}
	c.t, c.Name = t, local
	t.Cleanup(func() { c.conn.Close() })
	return c, res
}

// LoginSASL2To is LoginSASL2 to any server, returning the error.
func LoginSASL2To(ep Endpoint, local, password string, req SASL2) (*Client, *SASL2Result, error) {
	c, features, err := startTLS(ep, "")
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*Client, *SASL2Result, error) { c.conn.Close(); return nil, nil, err }
	if features.Child("authentication", NSSASL2) == nil {
		return fail(errors.New("the server does not offer SASL2"))
	}
	tc := c.conn.(*tls.Conn)
	var body strings.Builder
	mech := "SCRAM-SHA-256"
	var conv *scram.ClientConversation
	var cb []byte
	var initial string
	if req.Token != "" {
		mech = req.TokenMechanism
		if mech == "" {
			mech = "HT-SHA-256-NONE"
		}
		if strings.HasSuffix(mech, "-EXPR") {
			st := tc.ConnectionState()
			if cb, err = st.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32); err != nil {
				return fail(err)
			}
		}
		initial = local + "\x00" + string(HTMessage(req.Token, "Initiator", cb))
	} else {
		cl, err := scram.SHA256.NewClient(local, password, "")
		if err != nil {
			return fail(err)
		}
		conv = cl.NewConversation()
		if initial, err = conv.Step(""); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintf(&body, "<authenticate xmlns='%s' mechanism='%s'><initial-response>%s</initial-response>", NSSASL2, mech, base64.StdEncoding.EncodeToString([]byte(initial)))
	if req.AgentID != "" {
		fmt.Fprintf(&body, "<user-agent id='%s'><software>%s</software><device>%s</device></user-agent>", html.EscapeString(req.AgentID), html.EscapeString(req.Software), html.EscapeString(req.Device))
	}
	if req.Bind {
		body.WriteString("<bind xmlns='" + NSBind2 + "'>")
		if req.Tag != "" {
			body.WriteString("<tag>" + html.EscapeString(req.Tag) + "</tag>")
		}
		body.WriteString(req.Inline + "</bind>")
	}
	if req.RequestToken != "" {
		fmt.Fprintf(&body, "<request-token xmlns='%s' mechanism='%s'/>", NSFAST, req.RequestToken)
	}
	if req.Token != "" {
		body.WriteString("<fast xmlns='" + NSFAST + "'")
		if req.Count >= 0 {
			body.WriteString(" count='" + strconv.FormatInt(req.Count, 10) + "'")
		}
		if req.Invalidate {
			body.WriteString(" invalidate='true'")
		}
		body.WriteString("/>")
	}
	body.WriteString(req.Extra + "</authenticate>")
	c.write(body.String())
	res := &SASL2Result{}
	for {
		el, err := c.dec.Next()
		if err != nil {
			return fail(err)
		}
		switch {
		case el.NS == NSSASL2 && el.Name == "challenge" && conv != nil:
			data, _ := base64.StdEncoding.DecodeString(el.Content())
			resp, err := conv.Step(string(data))
			if err != nil {
				return fail(err)
			}
			c.write("<response xmlns='" + NSSASL2 + "'>" + base64.StdEncoding.EncodeToString([]byte(resp)) + "</response>")
			continue
		case el.NS == NSSASL2 && el.Name == "failure":
			res.Failure = el
			c.conn.Close()
			return c, res, nil
		case el.NS == NSSASL2 && el.Name == "success":
		default:
			return fail(fmt.Errorf("sasl2: %s", el))
		}
		res.Success = el
		data, _ := base64.StdEncoding.DecodeString(el.ChildText("additional-data", NSSASL2))
		if conv != nil {
			if _, err := conv.Step(string(data)); err != nil {
				return fail(fmt.Errorf("server signature: %w", err))
			}
		} else if !hmac.Equal(data, HTMessage(req.Token, "Responder", cb)) {
			return fail(errors.New("the server's HT responder message is wrong"))
		}
		res.JID = el.ChildText("authorization-identifier", NSSASL2)
		if tk := el.Child("token", NSFAST); tk != nil {
			res.Token, res.Expiry = tk.Attr("token"), tk.Attr("expiry")
		}
		if !req.Bind {
			if res.Features, err = c.dec.Next(); err != nil {
				return fail(err)
			}
			return c, res, nil
		}
		c.JID = res.JID
		_ = c.conn.SetDeadline(time.Time{})
		c.in = make(chan *stanza.Element, 1024)
		c.errc = make(chan error, 1)
		go c.read()
		return c, res, nil
	}
}

// HTMessage is an HT mechanism's message (draft-schmaus-kitten-sasl-ht):
// HMAC-SHA-256(token, label || cb), label "Initiator" or "Responder".
func HTMessage(token, label string, cb []byte) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	m.Write(cb)
	return m.Sum(nil)
}
