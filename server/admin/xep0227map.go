package admin

// How accounts map between XEP-0227 (server/internal/pie) and storage.

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/secure/precis"

	"hearth/server/internal/pie"
	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
	"hearth/storage"
)

// keysOf says which login keys an account has.
func keysOf(u storage.User) string {
	switch {
	case u.SHA1.Iters > 0 && u.SHA256.Iters > 0:
		return "SCRAM-SHA-1 and SCRAM-SHA-256"
	case u.SHA1.Iters > 0:
		return "SCRAM-SHA-1 only (SCRAM-SHA-256 keys are added at the first login with PLAIN)"
	case u.SHA256.Iters > 0:
		return "SCRAM-SHA-256 only (SCRAM-SHA-1 keys are added at the first login with PLAIN)"
	}
	return "none"
}

func counts(u pie.User, domain string) PortedAccount {
	c := PortedAccount{JID: u.Name + "@" + domain, Contacts: len(u.Roster), Pending: len(u.Pending),
		VCard: u.VCard != nil, Private: len(u.Private), Offline: len(u.Offline), PEPNodes: len(u.PEP), Skipped: u.Skipped}
	for _, n := range u.PEP {
		c.PEPItems += len(n.Items)
	}
	var ms []string
	for _, s := range u.SCRAM {
		ms = append(ms, s.Mechanism)
	}
	c.Keys = strings.Join(ms, " and ")
	return c
}

// fromPIE maps a parsed account onto storage. Addresses on from, the
// host the accounts came from, move to domain with them.
func fromPIE(u pie.User, from, domain string) (a storage.Account, notes []string, err error) {
	a = storage.Account{User: storage.User{Name: u.Name}}
	move := func(bare string) string {
		if at := strings.LastIndexByte(bare, '@'); at >= 0 && bare[at+1:] == from {
			return bare[:at+1] + domain
		}
		if bare == from {
			return domain
		}
		return bare
	}
	if u.Password != "" {
		// An old export's password: keys are derived from it, as a
		// client prepares it (RFC 7677 4), and it is not kept. The
		// server's rules for new passwords do not apply: the account
		// keeps the password it has.
		p, err := precis.OpaqueString.String(u.Password)
		if err != nil {
			return a, nil, errors.New("its password has characters a password may not have (RFC 8265 4.2)")
		}
		if a.User.SHA1, a.User.SHA256, err = storage.NewCredentials(p); err != nil {
			return a, nil, err
		}
	} else {
		for _, s := range u.SCRAM {
			c := storage.Credentials{Salt: s.Salt, Iters: s.Iters, StoredKey: s.StoredKey, ServerKey: s.ServerKey}
			if s.Mechanism == pie.SHA1 {
				a.User.SHA1 = c
			} else {
				a.User.SHA256 = c
			}
		}
	}
	seen := make(map[string]bool, len(u.Roster))
	for _, it := range u.Roster {
		c := move(it.JID)
		if c == u.Name+"@"+domain {
			continue
		}
		if seen[c] {
			// The contact was there under the old domain and the new.
			notes = append(notes, "the contact "+c+" a second time (listed under the file's domain and this server's)")
			continue
		}
		seen[c] = true
		// Groups are a set; some servers (Prosody) write them in no
		// particular order.
		groups := slices.Clone(it.Groups)
		slices.Sort(groups)
		a.Roster = append(a.Roster, storage.RosterItem{Contact: c, Name: it.Name, Subscription: it.Subscription,
			Ask: it.Ask, Approved: it.Approved, Groups: groups})
	}
	for _, p := range u.Pending {
		from := move(p.From)
		el := inClient(p.Stanza)
		el.SetAttr("from", from)
		el.SetAttr("to", u.Name+"@"+domain)
		a.Pending = append(a.Pending, storage.Pending{Contact: from, Stanza: el.Bytes()})
	}
	if u.VCard != nil {
		a.VCard = u.VCard.Bytes()
	}
	for _, el := range u.Private {
		if a.Private == nil {
			a.Private = make(map[string][]byte)
		}
		k := el.Name + " " + el.NS // mod/private's key
		a.Private[k] = append(a.Private[k], el.Bytes()...)
	}
	for _, m := range u.Offline {
		at := time.Now()
		if dl := m.Child("delay", stanza.NSDelay); dl != nil {
			if t, err := time.Parse(time.RFC3339Nano, dl.Attr("stamp")); err == nil {
				at = t
			}
		} else {
			m = m.ShallowClone()
			m.Append(stanza.New("delay", stanza.NSDelay, "from", domain, "stamp", at.UTC().Format("2006-01-02T15:04:05.000Z")).AppendText("Offline storage"))
		}
		a.Offline = append(a.Offline, storage.Offline{From: m.Attr("from"), Stanza: m.Bytes(), Stored: at})
	}
	owner := u.Name + "@" + domain
	for _, n := range u.PEP {
		cfg, more := pepConfig(n)
		notes = append(notes, more...)
		ni := storage.PEPNodeItems{Node: cfg}
		for _, it := range n.Items {
			ni.Items = append(ni.Items, storage.PubsubItem{ID: it.ID, Publisher: owner, Payload: it.Payload.Bytes()})
		}
		a.PEP = append(a.PEP, ni)
	}
	return a, notes, nil
}

// inClient returns a copy of el with the elements in the XEP-0227
// namespace moved to jabber:client: Prosody writes a pending request's
// <presence/> without a namespace of its own, so it and its children are
// in urn:xmpp:pie:0.
func inClient(el *stanza.Element) *stanza.Element {
	c := el.ShallowClone()
	if c.NS == pie.NS {
		c.NS = stanza.NSClient
	}
	c.Children = make([]*stanza.Element, len(el.Children))
	for i, k := range el.Children {
		if k.IsText() {
			c.Children[i] = k
		} else {
			c.Children[i] = inClient(k)
		}
	}
	return c
}

// pepConfig maps a node's pubsub#node_config values onto what Hearth
// keeps; what is not given takes mod/pep's defaults, and so does a value
// Hearth does not have, with a note for the import's report, except an
// access model: one Hearth does not have becomes whitelist (the owner
// only), so that nothing private becomes readable by more people.
func pepConfig(n pie.Node) (storage.PubsubNode, []string) {
	c := storage.PubsubNode{Node: n.Name, Access: "presence", MaxItems: 1, Persist: true,
		SendLast: "on_sub_and_presence", NotifyRetract: true, NotifyDelete: true}
	var notes []string
	kept := func(field, v, as string) {
		notes = append(notes, fmt.Sprintf("PEP node %s: %s %q, which Hearth does not have (%s)", n.Name, field, v, as))
	}
	keys := make([]string, 0, len(n.Config))
	for k := range n.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := n.Config[k]
		switch k {
		case "pubsub#access_model":
			switch v {
			case "open", "presence", "whitelist":
				c.Access = v
			default:
				// roster groups and authorize cannot be kept: the node
				// becomes narrower (the owner only), never wider.
				c.Access = "whitelist"
				kept(k, v, "it is whitelist here: only the account itself reads it until it opens the node again")
			}
		case "pubsub#max_items":
			if v == "max" {
				c.MaxItems = 0
			} else if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				c.MaxItems = n
			} else {
				kept(k, v, "it keeps one item here")
			}
		case "pubsub#persist_items":
			c.Persist = v == "1" || v == "true"
		case "pubsub#send_last_published_item":
			if slices.Contains([]string{"never", "on_sub", "on_sub_and_presence"}, v) {
				c.SendLast = v
			} else {
				kept(k, v, "it is on_sub_and_presence here")
			}
		case "pubsub#notify_retract":
			c.NotifyRetract = v == "1" || v == "true"
		case "pubsub#notify_delete":
			c.NotifyDelete = v == "1" || v == "true"
		case "pubsub#title":
			c.Title = v
		}
	}
	return c, notes
}

// toPIE maps a stored account onto XEP-0227.
func toPIE(a storage.Account) (pie.User, error) {
	u := pie.User{Name: a.User.Name}
	for _, c := range []struct {
		mech string
		cred storage.Credentials
	}{{pie.SHA1, a.User.SHA1}, {pie.SHA256, a.User.SHA256}} {
		if c.cred.Iters > 0 {
			u.SCRAM = append(u.SCRAM, pie.SCRAM{Mechanism: c.mech, Iters: c.cred.Iters, Salt: c.cred.Salt,
				StoredKey: c.cred.StoredKey, ServerKey: c.cred.ServerKey})
		}
	}
	for _, it := range a.Roster {
		u.Roster = append(u.Roster, pie.RosterItem{JID: it.Contact, Name: it.Name, Subscription: it.Subscription,
			Ask: it.Ask, Approved: it.Approved, Groups: it.Groups})
	}
	for _, p := range a.Pending {
		pu := pie.Pending{From: p.Contact}
		if el, err := stream.Unmarshal(p.Stanza); err == nil {
			pu.Stanza = el
		}
		u.Pending = append(u.Pending, pu)
	}
	if a.VCard != nil {
		el, err := stream.Unmarshal(a.VCard)
		if err != nil {
			return u, fmt.Errorf("the stored vCard cannot be read: %w", err)
		}
		u.VCard = el
	}
	keys := make([]string, 0, len(a.Private))
	for k := range a.Private {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		els, err := unmarshalAll(a.Private[k])
		if err != nil {
			return u, fmt.Errorf("the stored private XML %q cannot be read: %w", k, err)
		}
		u.Private = append(u.Private, els...)
	}
	for _, m := range a.Offline {
		el, err := stream.Unmarshal(m.Stanza)
		if err != nil {
			return u, fmt.Errorf("a stored offline message cannot be read: %w", err)
		}
		u.Offline = append(u.Offline, el)
	}
	for _, n := range a.PEP {
		pn := pie.Node{Name: n.Node.Node, Config: exportConfig(n.Node)}
		for _, it := range n.Items {
			el, err := stream.Unmarshal(it.Payload)
			if err != nil {
				return u, fmt.Errorf("an item of PEP node %s cannot be read: %w", n.Node.Node, err)
			}
			pn.Items = append(pn.Items, pie.Item{ID: it.ID, Payload: el})
		}
		u.PEP = append(u.PEP, pn)
	}
	return u, nil
}

func exportConfig(n storage.PubsubNode) map[string]string {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	max := "max"
	if n.MaxItems > 0 {
		max = fmt.Sprint(n.MaxItems)
	}
	c := map[string]string{
		"pubsub#access_model":             n.Access,
		"pubsub#max_items":                max,
		"pubsub#persist_items":            b(n.Persist),
		"pubsub#send_last_published_item": n.SendLast,
		"pubsub#notify_retract":           b(n.NotifyRetract),
		"pubsub#notify_delete":            b(n.NotifyDelete),
	}
	if n.Title != "" {
		c["pubsub#title"] = n.Title
	}
	return c
}

// unmarshalAll reads the elements stored one after another under one
// private XML key (mod/private keeps several of the same name together).
func unmarshalAll(b []byte) ([]*stanza.Element, error) {
	const wrap = "urn:hearth:wrap"
	el, err := stream.Unmarshal(append(append([]byte(`<w xmlns="`+wrap+`">`), b...), "</w>"...))
	if err != nil {
		return nil, err
	}
	return el.Elements(), nil
}
