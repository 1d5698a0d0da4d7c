package xmpptest

import (
	"bytes"
	"slices"
	"sort"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// Match reports whether got matches want: same name, namespace and
// attributes (want's "*" matches any value; want's missing attributes must
// be missing), same children in order, same text ignoring surrounding space.
// The archive ids the server adds to messages (XEP-0359 <stanza-id/>) are
// compared only where want has one: a transcript about something else
// need not spell them out.
func Match(want, got *stanza.Element) bool {
	if want.Name != got.Name || want.NS != got.NS {
		return false
	}
	if want.Name == "" {
		return strings.TrimSpace(want.Text) == strings.TrimSpace(got.Text)
	}
	if len(want.Attrs) != len(got.Attrs) || !hasAttrs(want, got) {
		return false
	}
	wc, gc := significant(want), significant(got)
	if !slices.ContainsFunc(wc, isStanzaID) {
		gc = slices.DeleteFunc(gc, isStanzaID)
	}
	if len(wc) == 1 && wc[0].Name == "" && wc[0].Text == "*" {
		return true
	}
	if len(wc) != len(gc) {
		return false
	}
	for i := range wc {
		if !Match(wc[i], gc[i]) {
			return false
		}
	}
	return true
}

// MatchLike reports whether got has what want has, allowing more: same
// name and namespace; want's attributes (others may be there too, "*"
// matches any value); each of want's child elements matched, in order, by
// one of got's, with others around them; and, if want has text, the same
// text ignoring surrounding space.
func MatchLike(want, got *stanza.Element) bool {
	if want.Name != got.Name || want.NS != got.NS || !hasAttrs(want, got) {
		return false
	}
	var text strings.Builder
	gc := got.Elements()
	for _, w := range want.Children {
		if w.Name == "" {
			text.WriteString(w.Text)
			continue
		}
		for len(gc) > 0 && !MatchLike(w, gc[0]) {
			gc = gc[1:]
		}
		if len(gc) == 0 {
			return false
		}
		gc = gc[1:]
	}
	if t := strings.TrimSpace(text.String()); t != "" && t != "*" {
		var gt strings.Builder
		for _, c := range got.Children {
			if c.Name == "" {
				gt.WriteString(c.Text)
			}
		}
		return strings.TrimSpace(gt.String()) == t
	}
	return true
}

// hasAttrs reports whether got has each of want's attributes, with the
// same value ("*" matches any).
func hasAttrs(want, got *stanza.Element) bool {
	for _, a := range want.Attrs {
		found := false
		for _, b := range got.Attrs {
			if a.Name == b.Name && a.Space == b.Space && (a.Value == "*" || a.Value == b.Value) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func isStanzaID(e *stanza.Element) bool { return e.Name == "stanza-id" && e.NS == "urn:xmpp:sid:0" }

func significant(e *stanza.Element) []*stanza.Element {
	var out []*stanza.Element
	for _, c := range e.Children {
		if c.Name == "" && strings.TrimSpace(c.Text) == "" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// Canonical renders an element with sorted attributes, for messages.
func Canonical(e *stanza.Element) string {
	c := e.Clone()
	var sortAttrs func(*stanza.Element)
	sortAttrs = func(e *stanza.Element) {
		sort.Slice(e.Attrs, func(i, j int) bool { return e.Attrs[i].Name < e.Attrs[j].Name })
		for _, ch := range e.Children {
			sortAttrs(ch)
		}
	}
	sortAttrs(c)
	var b bytes.Buffer
	c.WriteTo(&b, stanza.NSClient)
	return b.String()
}

// MustMatch fails the test unless got matches want (Match), given as XML.
func MustMatch(t testing.TB, want string, got *stanza.Element) {
	t.Helper()
	w, err := stream.Unmarshal([]byte(want))
	if err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if got == nil || !Match(w, got) {
		t.Fatalf("got  %s\nwant %s", canonicalOrNil(got), Canonical(w))
	}
}

// MustMatchLike is MustMatch with MatchLike: got may have more.
func MustMatchLike(t testing.TB, want string, got *stanza.Element) {
	t.Helper()
	w, err := stream.Unmarshal([]byte(want))
	if err != nil {
		t.Fatalf("want %q: %v", want, err)
	}
	if got == nil || !MatchLike(w, got) {
		t.Fatalf("got  %s\nwant like %s", canonicalOrNil(got), Canonical(w))
	}
}

func canonicalOrNil(e *stanza.Element) string {
	if e == nil {
		return "(nothing)"
	}
	return Canonical(e)
}
