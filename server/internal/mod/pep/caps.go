package pep

import (
	"cmp"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"slices"
	"strings"
	"sync"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// capsKey is an entity's XEP-0115 capabilities as its presence announces
// them: the hash function, the verification string and the node.
type capsKey struct {
	hash, ver, node string
}

func (k capsKey) zero() bool { return k.ver == "" }

// id is what the cache is keyed on: the node is only for the query.
func (k capsKey) id() string { return k.hash + " " + k.ver }

// capsOf reads the <c/> of a presence. Legacy caps (no hash attribute,
// XEP-0115 1.3 and before) cannot be verified and count as none.
func capsOf(el *stanza.Element) capsKey {
	if el == nil {
		return capsKey{}
	}
	c := el.Child("c", NSCaps)
	if c == nil || newHash(c.Attr("hash")) == nil || c.Attr("ver") == "" || c.Attr("node") == "" {
		return capsKey{}
	}
	return capsKey{hash: c.Attr("hash"), ver: c.Attr("ver"), node: c.Attr("node")}
}

// newHash returns the hash function XEP-0115 names, or nil.
func newHash(name string) hash.Hash {
	switch name {
	case "sha-1":
		return sha1.New()
	case "sha-256":
		return sha256.New()
	}
	return nil
}

// Bounds of the caps cache: what it keeps, the queries under way, who may
// wait for one, and how long one is waited for before it is asked again.
const (
	maxKnown     = 1000
	maxPending   = 256
	maxWaiters   = 64
	queryTimeout = 30 * time.Second
)

// capsCache maps verification strings to the features they stand for
// (XEP-0115 6.2), learned by asking one entity that announced each, once.
// It is memory only, bounded: a restart asks again.
type capsCache struct {
	mu      sync.Mutex
	known   map[string]map[string]bool
	pending map[string]*capsQuery // by capsKey.id
	byID    map[string]*capsQuery // by IQ id
}

// capsQuery is a disco#info query under way and who waits for it.
type capsQuery struct {
	id      string
	key     capsKey
	to      jid.JID
	sent    time.Time
	waiters []waiter
}

// waiter is an account's service that waits for a full JID's features.
type waiter struct {
	user string
	full jid.JID
}

func newCapsCache() *capsCache {
	return &capsCache{known: make(map[string]map[string]bool), pending: make(map[string]*capsQuery), byID: make(map[string]*capsQuery)}
}

// features returns the features of k, if known.
func (c *capsCache) features(k capsKey) (map[string]bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fs, ok := c.known[k.id()]
	return fs, ok
}

// want records that user's service waits for full's features, and
// returns the query to send when none is under way (nil otherwise).
func (c *capsCache) want(k capsKey, user string, full jid.JID) *capsQuery {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if q := c.pending[k.id()]; q != nil && now.Sub(q.sent) < queryTimeout {
		if len(q.waiters) < maxWaiters {
			q.waiters = append(q.waiters, waiter{user, full})
		}
		return nil
	}
	if len(c.pending) >= maxPending {
		for id, q := range c.pending {
			if now.Sub(q.sent) >= queryTimeout {
				delete(c.pending, id)
				delete(c.byID, q.id)
			}
		}
		if len(c.pending) >= maxPending {
			return nil
		}
	}
	if old := c.pending[k.id()]; old != nil {
		delete(c.byID, old.id)
	}
	q := &capsQuery{id: "caps-" + newID(), key: k, to: full, sent: now, waiters: []waiter{{user, full}}}
	c.pending[k.id()] = q
	c.byID[q.id] = q
	return q
}

// answer takes an IQ result or error; ok is false when it answers no
// query of the cache. On a result whose features match the hash, the
// features are cached and returned with who waited for them; fs is nil
// for an error or a mismatch (XEP-0115 5.4: not cached).
func (c *capsCache) answer(st *stanza.Stanza) (fs map[string]bool, waiters []waiter, ok bool) {
	if !strings.HasPrefix(st.ID, "caps-") {
		return nil, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.byID[st.ID]
	if q == nil || st.From != q.to {
		return nil, nil, false
	}
	delete(c.byID, q.id)
	delete(c.pending, q.key.id())
	p := st.El.Child("query", stanza.NSDiscoInfo)
	if st.Type != "result" || p == nil {
		return nil, nil, true
	}
	ver, err := capsVer(p, q.key.hash)
	if err != nil || ver != q.key.ver {
		return nil, nil, true
	}
	fs = make(map[string]bool)
	for _, f := range p.Children {
		if f.Name == "feature" && f.NS == stanza.NSDiscoInfo {
			fs[f.Attr("var")] = true
		}
	}
	if len(c.known) >= maxKnown {
		for id := range c.known {
			delete(c.known, id) // one, any: the cache is a bound, not a history
			break
		}
	}
	c.known[q.key.id()] = fs
	return fs, q.waiters, true
}

// capsVer computes the verification string of a disco#info answer
// (XEP-0115 5.1) with the named hash, and refuses an answer XEP-0115 5.4
// says not to trust: repeated identities, features or form types.
func capsVer(q *stanza.Element, hashName string) (string, error) {
	h := newHash(hashName)
	if h == nil {
		return "", errors.New("unsupported hash " + hashName)
	}
	type identity struct{ category, typ, lang, name string }
	var ids []identity
	var features []string
	type form struct {
		typ    string
		fields [][]string // var, then the values
	}
	var forms []form
	for _, c := range q.Children {
		switch {
		case c.Name == "identity" && c.NS == stanza.NSDiscoInfo:
			ids = append(ids, identity{c.Attr("category"), c.Attr("type"), c.Lang(), c.Attr("name")})
		case c.Name == "feature" && c.NS == stanza.NSDiscoInfo:
			features = append(features, c.Attr("var"))
		case c.Name == "x" && c.NS == stanza.NSDataForms && c.Attr("type") == "result":
			var f form
			hasType := false
			for _, fl := range c.Children {
				if fl.Name != "field" || fl.NS != stanza.NSDataForms {
					continue
				}
				var vals []string
				for _, v := range fl.Children {
					if v.Name == "value" && v.NS == stanza.NSDataForms {
						vals = append(vals, v.Content())
					}
				}
				if fl.Attr("var") == "FORM_TYPE" {
					if hasType || len(vals) != 1 || fl.Attr("type") != "hidden" {
						return "", errors.New("form with a bad FORM_TYPE")
					}
					hasType = true
					f.typ = vals[0]
					continue
				}
				f.fields = append(f.fields, append([]string{fl.Attr("var")}, vals...))
			}
			if hasType {
				forms = append(forms, f)
			}
		}
	}
	slices.SortFunc(ids, func(a, b identity) int {
		return cmp.Or(strings.Compare(a.category, b.category), strings.Compare(a.typ, b.typ),
			strings.Compare(a.lang, b.lang), strings.Compare(a.name, b.name))
	})
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return "", errors.New("repeated identity")
		}
	}
	slices.Sort(features)
	for i := 1; i < len(features); i++ {
		if features[i] == features[i-1] {
			return "", errors.New("repeated feature")
		}
	}
	slices.SortFunc(forms, func(a, b form) int { return strings.Compare(a.typ, b.typ) })
	for i := 1; i < len(forms); i++ {
		if forms[i].typ == forms[i-1].typ {
			return "", errors.New("repeated form type")
		}
	}
	var s strings.Builder
	for _, id := range ids {
		s.WriteString(id.category + "/" + id.typ + "/" + id.lang + "/" + id.name + "<")
	}
	for _, f := range features {
		s.WriteString(f + "<")
	}
	for _, f := range forms {
		s.WriteString(f.typ + "<")
		slices.SortFunc(f.fields, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
		for _, fl := range f.fields {
			s.WriteString(fl[0] + "<")
			vals := slices.Clone(fl[1:])
			slices.Sort(vals)
			for _, v := range vals {
				s.WriteString(v + "<")
			}
		}
	}
	h.Write([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}
