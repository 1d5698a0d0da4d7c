package bench

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/scram"
)

// auth runs SASL (RFC 6120 6) with the best mechanism both sides have.
func (d *dialer) auth(c *Conn, feats []byte, i int) error {
	var offered []string
	eachTag(feats, func(tag, text []byte) bool {
		if string(localName(tagName(tag))) == "mechanism" {
			offered = append(offered, strings.TrimSpace(string(unescape(text))))
		}
		return true
	})
	mech := pickMech(offered, d.o.mech)
	if mech == "" {
		return fmt.Errorf("sasl: no usable mechanism in %v", offered)
	}
	user, pass := d.user(i), d.password(i)
	var first string
	var conv *scram.ClientConversation
	if mech == "PLAIN" {
		first = "\x00" + user + "\x00" + pass
	} else {
		cl, err := d.scramClient(mech, user, pass)
		if err != nil {
			return err
		}
		conv = cl.NewConversation()
		if first, err = conv.Step(""); err != nil {
			return fmt.Errorf("sasl: %w", err)
		}
	}
	b := make([]byte, 0, 256)
	b = append(b, "<auth xmlns='"+nsSASL+"' mechanism='"+mech+"'>"...)
	b = appendSASLData(b, []byte(first))
	b = append(b, "</auth>"...)
	if err := c.send(b); err != nil {
		return err
	}
	for {
		kind, el, err := c.sc.next()
		if err != nil {
			return fmt.Errorf("sasl: %w", err)
		}
		if kind != tokElement {
			return errors.New("sasl: unexpected stream header")
		}
		data, err := saslData(rootText(el))
		if err != nil {
			return err
		}
		switch string(localName(tagName(el))) {
		case "challenge":
			if conv == nil {
				return errors.New("sasl: unexpected challenge for PLAIN")
			}
			resp, err := conv.Step(string(data))
			if err != nil {
				return fmt.Errorf("sasl: %w", err)
			}
			b = append(b[:0], "<response xmlns='"+nsSASL+"'>"...)
			b = appendSASLData(b, []byte(resp))
			b = append(b, "</response>"...)
			if err := c.send(b); err != nil {
				return err
			}
		case "success":
			if conv != nil {
				// RFC 6120 6.3.10: additional data with success carries
				// the server signature, which SCRAM must check.
				if len(data) > 0 && !conv.Done() {
					if _, err := conv.Step(string(data)); err != nil {
						return fmt.Errorf("sasl: server signature: %w", err)
					}
				}
				if !conv.Valid() {
					return errors.New("sasl: server signature not verified")
				}
			}
			return nil
		case "failure":
			return fmt.Errorf("sasl %s: %s", mech, firstChild(el))
		default:
			return fmt.Errorf("sasl: unexpected <%s>", tagName(el))
		}
	}
}

// saslData decodes the base64 payload of a SASL element; RFC 6120 6.4.2
// writes an empty payload as "=" (and an absent one as nothing).
func saslData(text []byte) ([]byte, error) {
	s := strings.TrimSpace(string(text))
	if s == "=" {
		return nil, nil
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("sasl: bad base64: %w", err)
	}
	return data, nil
}

func appendSASLData(b, data []byte) []byte {
	if len(data) == 0 {
		return append(b, '=')
	}
	return base64.StdEncoding.AppendEncode(b, data)
}

// pickMech chooses the strongest offered mechanism, or the forced one.
func pickMech(offered []string, force string) string {
	prefs := []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}
	if force != "" {
		prefs = []string{force}
	}
	for _, p := range prefs {
		for _, m := range offered {
			if strings.EqualFold(m, p) {
				return p
			}
		}
	}
	return ""
}

func (d *dialer) scramClient(mech, user, pass string) (*scram.Client, error) {
	key := mech + "\x00" + user
	d.mu.Lock()
	defer d.mu.Unlock()
	if cl, ok := d.clients[key]; ok {
		return cl, nil
	}
	h := scram.SHA256
	if mech == "SCRAM-SHA-1" {
		h = scram.SHA1
	}
	cl, err := h.NewClient(user, pass, "")
	if err != nil {
		return nil, fmt.Errorf("sasl: %w", err)
	}
	d.clients[key] = cl
	return cl, nil
}
