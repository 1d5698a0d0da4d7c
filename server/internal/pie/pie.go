// Package pie reads and writes XEP-0227 (Portable Import/Export Format for
// XMPP-IM Servers) files: a server's accounts with their SCRAM keys (or,
// from old exports, a password), rosters, pending subscription requests,
// vCards, private XML, offline messages and PEP nodes with their items.
//
// Parse checks a file against what Hearth can take in and bounds what it
// reads; it knows nothing of the database (the admin package maps the
// parsed accounts onto storage).
package pie

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Namespaces of XEP-0227 and of what it carries.
const (
	NS            = "urn:xmpp:pie:0"
	NSSCRAM       = "urn:xmpp:pie:0#scram"
	NSPubSub      = "http://jabber.org/protocol/pubsub"
	NSPubSubOwner = "http://jabber.org/protocol/pubsub#owner"
)

// SCRAM mechanisms whose keys Hearth keeps.
const (
	SHA1   = "SCRAM-SHA-1"
	SHA256 = "SCRAM-SHA-256"
)

// Limits of one file. A personal server's export is far below them; a file
// above them is refused before anything is imported.
const (
	MaxFileBytes   = 64 << 20
	MaxUsers       = 10000
	MaxRosterItems = 10000 // per account
	MaxGroups      = 100   // per roster item
	MaxOffline     = 10000 // per account
	MaxPEPNodes    = 1000  // per account
	MaxPEPItems    = 1000  // per node
	MaxIters       = 1000000
	maxDepth       = 48
	maxNameBytes   = 1023 // a roster name, a group, a node, an item id
)

// Data is the content of a file: its hosts and their accounts.
type Data struct {
	Hosts []Host
}

// Host is one domain and its accounts.
type Host struct {
	JID   string
	Users []User
}

// User is one account.
type User struct {
	Name string // the localpart, normalised
	// Password is a plaintext password, which some exports carry; it is
	// never written. An importer derives keys from it.
	Password string
	SCRAM    []SCRAM
	Roster   []RosterItem
	// Pending are the inbound subscription requests not answered yet:
	// <presence type='subscribe'/> elements, by sender.
	Pending []Pending
	VCard   *stanza.Element   // <vCard xmlns='vcard-temp'/>, or nil
	Private []*stanza.Element // each a child of <query xmlns='jabber:iq:private'/>
	Offline []*stanza.Element // <message/> stanzas in jabber:client
	PEP     []Node
	// Skipped names what the file holds for the account that Hearth
	// does not take in (a message archive, other SCRAM mechanisms), for
	// the import's report.
	Skipped []string
}

// SCRAM is one mechanism's keys (RFC 5802 3).
type SCRAM struct {
	Mechanism            string // SHA1 or SHA256
	Iters                int
	Salt                 []byte
	StoredKey, ServerKey []byte
}

// RosterItem is a contact (RFC 6121 2.1.2).
type RosterItem struct {
	JID          string // bare, normalised
	Name         string
	Subscription string // none, to, from or both
	Ask          bool
	Approved     bool
	Groups       []string
}

// Pending is a subscription request from From.
type Pending struct {
	From   string // bare, normalised
	Stanza *stanza.Element
}

// Node is a PEP node with its configuration (the submitted fields of its
// pubsub#node_config form) and items.
type Node struct {
	Name   string
	Config map[string]string
	Items  []Item
}

// Item is one published item; Payload is its one element.
type Item struct {
	ID      string
	Payload *stanza.Element
}

// Error is a reason to refuse a file, in words for the person importing.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Parse reads a XEP-0227 file from r. It reads at most MaxFileBytes and
// refuses a file that is not well-formed, not XEP-0227, or holds anything
// that does not check (an address that is not one, keys of the wrong
// size): the error, an *Error, says where and what.
func Parse(r io.Reader) (*Data, error) {
	root, err := read(r)
	if err != nil {
		return nil, err
	}
	if err := noIncludes(root); err != nil {
		return nil, err
	}
	return parseRoot(root)
}

// read reads and decodes one document of at most MaxFileBytes.
func read(r io.Reader) (*stanza.Element, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	if len(b) > MaxFileBytes {
		return nil, errorf("the file is larger than %d MiB; export fewer accounts per file (one file per account is fine)", MaxFileBytes>>20)
	}
	return decode(b)
}

// isPIE reports whether ns is XEP-0227's namespace, or the one it had
// before it was a Draft (old exports).
func isPIE(ns string) bool { return ns == NS || ns == nsOld }

// nsOld is XEP-0227's namespace before version 1.0.
const nsOld = "http://www.xmpp.org/extensions/xep-0227.html#ns"

// parseRoot reads the accounts of a decoded <server-data/>.
func parseRoot(root *stanza.Element) (*Data, error) {
	if root.Name == "host" && isPIE(root.NS) {
		return nil, errorf("this file is one host's part of an export split into files (XInclude): import the main file, which includes it")
	}
	if root.Name != "server-data" || !isPIE(root.NS) {
		return nil, errorf("this is not a XEP-0227 file: its root element is <%s xmlns='%s'>, not <server-data xmlns='%s'>", root.Name, root.NS, NS)
	}
	d := &Data{}
	users := 0
	for _, h := range root.Elements() {
		if h.Name != "host" || !isPIE(h.NS) {
			continue
		}
		hj, err := jid.Parse(h.Attr("jid"))
		if err != nil || !hj.IsDomain() {
			return nil, errorf("<host jid=%q>: not a domain", h.Attr("jid"))
		}
		host := Host{JID: hj.Domain}
		for _, u := range h.Elements() {
			if u.Name != "user" || !isPIE(u.NS) {
				continue
			}
			if users++; users > MaxUsers {
				return nil, errorf("the file holds more than %d accounts; split it", MaxUsers)
			}
			pu, err := parseUser(u, hj.Domain)
			if err != nil {
				return nil, err
			}
			host.Users = append(host.Users, pu)
		}
		d.Hosts = append(d.Hosts, host)
	}
	if len(d.Hosts) == 0 {
		return nil, errorf("the file names no host: XEP-0227 puts accounts in <host jid='example.org'>")
	}
	return d, nil
}

// decode parses b, one XML document, with the restricted-XML decoder of
// the streams (no DTD, no comments): a leading byte-order mark and XML
// declaration are skipped.
func decode(b []byte) (*stanza.Element, error) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if bytes.HasPrefix(b, []byte("<?xml")) {
		end := bytes.Index(b, []byte("?>"))
		if end < 0 {
			return nil, errorf("the file's XML declaration is not closed")
		}
		decl := string(b[:end])
		if i := strings.Index(decl, "encoding="); i >= 0 {
			enc := strings.ToLower(strings.Trim(decl[i+len("encoding="):], `"' `))
			if f := strings.FieldsFunc(enc, func(r rune) bool { return r == '"' || r == '\'' || r == ' ' }); len(f) > 0 && f[0] != "utf-8" {
				return nil, errorf("the file is in %s; XEP-0227 files are UTF-8", f[0])
			}
		}
		b = b[end+2:]
	}
	if !utf8.Valid(b) {
		return nil, errorf("the file is not UTF-8 text")
	}
	n := len(b) + 1024
	r := io.MultiReader(strings.NewReader(`<stream:stream xmlns="jabber:client" xmlns:stream="`+stanza.NSStream+`">`), bytes.NewReader(b))
	d := stream.NewDecoder(r, stream.Limits{MaxStanza: n, MaxDepth: maxDepth, MaxElements: n, MaxAttrs: 256, MaxScope: 256})
	if _, err := d.Header(); err != nil {
		return nil, errorf("the file is not XML that can be read: %v", err)
	}
	root, err := d.Next()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, stream.ErrClosed) {
			return nil, errorf("the file is empty or ends too early")
		}
		return nil, errorf("the file is not XML that can be read: %v", err)
	}
	return root, nil
}

func parseUser(u *stanza.Element, domain string) (User, error) {
	name := u.Attr("name")
	j, err := jid.New(name, domain, "")
	if err != nil || j.Local == "" {
		return User{}, errorf("host %s: <user name=%q>: not a valid user name", domain, name)
	}
	at := j.Local + "@" + domain
	fail := func(format string, args ...any) error {
		return errorf("account %s: %s", at, fmt.Sprintf(format, args...))
	}
	pu := User{Name: j.Local, Password: u.Attr("password")}
	if len(pu.Password) > 1024 {
		return User{}, fail("its password is longer than 1024 bytes")
	}
	for _, c := range u.Elements() {
		switch {
		case c.Name == "scram-credentials" && c.NS == NSSCRAM:
			s, ok, err := parseSCRAM(c)
			if err != nil {
				return User{}, fail("%v", err)
			}
			if !ok {
				pu.Skipped = append(pu.Skipped, "keys for "+c.Attr("mechanism")+" (Hearth keeps SCRAM-SHA-1 and SCRAM-SHA-256)")
				continue
			}
			for _, o := range pu.SCRAM {
				if o.Mechanism == s.Mechanism {
					return User{}, fail("two sets of %s keys", s.Mechanism)
				}
			}
			pu.SCRAM = append(pu.SCRAM, s)
		case c.Name == "query" && c.NS == stanza.NSRoster:
			items, err := parseRoster(c, at)
			if err != nil {
				return User{}, fail("roster: %v", err)
			}
			pu.Roster = append(pu.Roster, items...)
			if len(pu.Roster) > MaxRosterItems {
				return User{}, fail("more than %d contacts", MaxRosterItems)
			}
		case c.Name == "presence" && (c.NS == stanza.NSClient || isPIE(c.NS)):
			// Prosody writes it without a namespace of its own.
			if c.Attr("type") != "subscribe" {
				continue
			}
			from, err := bare(c.Attr("from"))
			if err != nil {
				return User{}, fail("subscription request from %q: not an address", c.Attr("from"))
			}
			pu.Pending = append(pu.Pending, Pending{From: from, Stanza: c})
			if len(pu.Pending) > MaxRosterItems {
				return User{}, fail("more than %d subscription requests", MaxRosterItems)
			}
		case c.Name == "vCard" && c.NS == stanza.NSVCard:
			if pu.VCard != nil {
				return User{}, fail("two vCards")
			}
			pu.VCard = c
		case c.Name == "query" && c.NS == stanza.NSPrivate:
			pu.Private = append(pu.Private, c.Elements()...)
		case c.Name == "offline-messages" && isPIE(c.NS):
			for _, m := range c.Elements() {
				if m.Name != "message" || m.NS != stanza.NSClient {
					return User{}, fail("offline messages: <%s xmlns='%s'> is not a message", m.Name, m.NS)
				}
				pu.Offline = append(pu.Offline, m)
			}
			if len(pu.Offline) > MaxOffline {
				return User{}, fail("more than %d offline messages", MaxOffline)
			}
		case c.Name == "pubsub" && (c.NS == NSPubSub || c.NS == NSPubSubOwner):
			if err := parsePubSub(c, &pu); err != nil {
				return User{}, fail("PEP: %v", err)
			}
		default:
			what := "<" + c.Name + " xmlns='" + c.NS + "'>"
			if c.Name == "archive" {
				what = "the message archive (" + strconv.Itoa(len(c.Elements())) + " messages; Hearth does not import archives)"
			}
			pu.Skipped = append(pu.Skipped, what)
		}
	}
	if len(pu.SCRAM) == 0 && pu.Password == "" {
		return User{}, fail("no SCRAM-SHA-1 or SCRAM-SHA-256 keys and no password: the account could never log in")
	}
	return pu, nil
}

// parseSCRAM reads one <scram-credentials/>; ok is false for a mechanism
// Hearth does not keep.
func parseSCRAM(c *stanza.Element) (SCRAM, bool, error) {
	s := SCRAM{Mechanism: c.Attr("mechanism")}
	var size int
	switch s.Mechanism {
	case SHA1:
		size = 20
	case SHA256:
		size = 32
	default:
		return SCRAM{}, false, nil
	}
	it := strings.TrimSpace(c.ChildText("iter-count", NSSCRAM))
	n, err := strconv.Atoi(it)
	if err != nil || n < 1 || n > MaxIters {
		return SCRAM{}, false, fmt.Errorf("%s: iteration count %q is not a number from 1 to %d", s.Mechanism, it, MaxIters)
	}
	s.Iters = n
	// ejabberd 23.01 keeps its keys and salts as base64 text and exports
	// them encoded once more: keys that decode to base64 of the right
	// size are taken as such, and so is the salt then.
	twice := false
	for _, name := range []string{"stored-key", "server-key"} {
		v, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.ChildText(name, NSSCRAM)), ""))
		if err != nil || len(v) == size {
			twice = false
			break
		}
		w, err := base64.StdEncoding.DecodeString(string(v))
		twice = err == nil && len(w) == size
		if !twice {
			break
		}
	}
	field := func(name string, want int) ([]byte, error) {
		t := strings.Join(strings.Fields(c.ChildText(name, NSSCRAM)), "")
		v, err := base64.StdEncoding.DecodeString(t)
		if twice && err == nil {
			v, err = base64.StdEncoding.DecodeString(string(v))
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: <%s> is not base64", s.Mechanism, name)
		case len(v) == 0:
			return nil, fmt.Errorf("%s: <%s> is missing or empty", s.Mechanism, name)
		case want > 0 && len(v) != want:
			return nil, fmt.Errorf("%s: <%s> has %d bytes, not %d", s.Mechanism, name, len(v), want)
		case len(v) > 1024:
			return nil, fmt.Errorf("%s: <%s> is longer than 1024 bytes", s.Mechanism, name)
		}
		return v, nil
	}
	if s.Salt, err = field("salt", 0); err != nil {
		return SCRAM{}, false, err
	}
	if s.StoredKey, err = field("stored-key", size); err != nil {
		return SCRAM{}, false, err
	}
	if s.ServerKey, err = field("server-key", size); err != nil {
		return SCRAM{}, false, err
	}
	return s, true, nil
}

// bare normalises a bare JID.
func bare(s string) (string, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return "", err
	}
	if j.Resource != "" {
		return "", errors.New("has a resource")
	}
	return j.String(), nil
}

func parseRoster(q *stanza.Element, self string) ([]RosterItem, error) {
	var out []RosterItem
	seen := make(map[string]bool)
	for i, it := range q.Elements() {
		if it.Name != "item" || it.NS != stanza.NSRoster {
			continue
		}
		c, err := bare(it.Attr("jid"))
		if err != nil {
			return nil, fmt.Errorf("item %d: %q is not an address", i+1, it.Attr("jid"))
		}
		if c == self {
			continue // no roster holds its own account (RFC 6121 2.1.2.1 does not forbid it; Prosody skips it)
		}
		if seen[c] {
			return nil, fmt.Errorf("%s is listed twice", c)
		}
		seen[c] = true
		ri := RosterItem{JID: c, Name: it.Attr("name"), Subscription: it.Attr("subscription")}
		switch ri.Subscription {
		case "":
			ri.Subscription = "none"
		case "none", "to", "from", "both":
		case "remove":
			continue
		default:
			return nil, fmt.Errorf("%s: subscription %q is not none, to, from or both", c, ri.Subscription)
		}
		switch it.Attr("ask") {
		case "", "unsubscribe":
		case "subscribe":
			ri.Ask = true
		default:
			return nil, fmt.Errorf("%s: ask %q is not subscribe", c, it.Attr("ask"))
		}
		ri.Approved = it.Attr("approved") == "true" || it.Attr("approved") == "1"
		if len(ri.Name) > maxNameBytes {
			return nil, fmt.Errorf("%s: the name is longer than %d bytes", c, maxNameBytes)
		}
		for _, g := range it.Elements() {
			if g.Name != "group" || g.NS != stanza.NSRoster {
				continue
			}
			name := g.Content()
			if name == "" || len(name) > maxNameBytes {
				return nil, fmt.Errorf("%s: a group name is empty or longer than %d bytes", c, maxNameBytes)
			}
			if !contains(ri.Groups, name) {
				ri.Groups = append(ri.Groups, name)
			}
		}
		if len(ri.Groups) > MaxGroups {
			return nil, fmt.Errorf("%s: in more than %d groups", c, MaxGroups)
		}
		out = append(out, ri)
	}
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// parsePubSub reads <pubsub xmlns='...pubsub'> (items) and
// <pubsub xmlns='...pubsub#owner'> (node configuration) into u.PEP.
func parsePubSub(ps *stanza.Element, u *User) error {
	node := func(name string) (*Node, error) {
		if name == "" || len(name) > maxNameBytes {
			return nil, errors.New("a node without a name, or with one longer than 1023 bytes")
		}
		for i := range u.PEP {
			if u.PEP[i].Name == name {
				return &u.PEP[i], nil
			}
		}
		if len(u.PEP) >= MaxPEPNodes {
			return nil, fmt.Errorf("more than %d nodes", MaxPEPNodes)
		}
		u.PEP = append(u.PEP, Node{Name: name})
		return &u.PEP[len(u.PEP)-1], nil
	}
	for _, c := range ps.Elements() {
		switch {
		case ps.NS == NSPubSub && c.Name == "items":
			n, err := node(c.Attr("node"))
			if err != nil {
				return err
			}
			for _, it := range c.Elements() {
				if it.Name != "item" {
					continue
				}
				id := it.Attr("id")
				p := it.FirstElement()
				if id == "" || len(id) > maxNameBytes {
					return fmt.Errorf("node %s: an item without an id, or with one longer than %d bytes", n.Name, maxNameBytes)
				}
				if p == nil {
					u.Skipped = append(u.Skipped, "item "+id+" of PEP node "+n.Name+", which has no payload")
					continue
				}
				n.Items = append(n.Items, Item{ID: id, Payload: p})
				if len(n.Items) > MaxPEPItems {
					return fmt.Errorf("node %s: more than %d items", n.Name, MaxPEPItems)
				}
			}
		case ps.NS == NSPubSubOwner && c.Name == "configure":
			n, err := node(c.Attr("node"))
			if err != nil {
				return err
			}
			if x := c.Child("x", stanza.NSDataForms); x != nil {
				n.Config = formValues(x)
			}
		}
	}
	return nil
}

// formValues returns the first value of each field of a data form.
func formValues(x *stanza.Element) map[string]string {
	out := make(map[string]string)
	for _, f := range x.Elements() {
		if f.Name != "field" || f.NS != stanza.NSDataForms || f.Attr("var") == "" {
			continue
		}
		if v := f.Child("value", stanza.NSDataForms); v != nil {
			out[f.Attr("var")] = v.Content()
		}
	}
	return out
}
