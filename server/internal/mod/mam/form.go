package mam

import (
	"strconv"
	"strings"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// request is a query (XEP-0313 4) as the client sent it: its data form
// (4.1), its result set management (XEP-0059) and flip-page (#extended).
type request struct {
	queryID string
	// The form's filters.
	with              jid.JID
	start, end        time.Time // zero: none
	afterID, beforeID string
	ids               []string
	// RSM: max (-1: not given), after, before (last: <before/> was
	// given, empty or not).
	max           int
	after, before string
	last          bool
	flip          bool
}

// maxIDs bounds the ids field.
const maxIDs = MaxPage

// parseQuery reads a <query xmlns='urn:xmpp:mam:2'/>; what it does not
// understand is a bad-request that says what.
func parseQuery(q *stanza.Element) (request, *stanza.Error) {
	r := request{queryID: q.Attr("queryid"), max: -1}
	for _, c := range q.Elements() {
		switch {
		case c.NS == stanza.NSDataForms && c.Name == "x":
			if e := r.form(c); e != nil {
				return r, e
			}
		case c.NS == NSRSM && c.Name == "set":
			if e := r.rsm(c); e != nil {
				return r, e
			}
		case c.NS == NS && c.Name == "flip-page":
			r.flip = true
		default:
			return r, stanza.ErrBadRequest("the query has an element the server does not know: " + c.Name)
		}
	}
	return r, nil
}

// form reads the data form's fields.
func (r *request) form(x *stanza.Element) *stanza.Error {
	if t := x.Attr("type"); t != "submit" && t != "" {
		return stanza.ErrBadRequest("the query's form must be of type submit")
	}
	seen := map[string]bool{}
	for _, f := range x.Elements() {
		if f.NS != stanza.NSDataForms || f.Name != "field" {
			continue
		}
		name := f.Attr("var")
		if seen[name] {
			return stanza.ErrBadRequest("the form has the field " + name + " twice")
		}
		seen[name] = true
		var values []string
		for _, v := range f.Elements() {
			if v.NS == stanza.NSDataForms && v.Name == "value" {
				values = append(values, strings.TrimSpace(v.Content()))
			}
		}
		one := func() (string, *stanza.Error) {
			switch len(values) {
			case 0:
				return "", nil
			case 1:
				return values[0], nil
			}
			return "", stanza.ErrBadRequest("the field " + name + " takes one value")
		}
		v, e := "", (*stanza.Error)(nil)
		if name != "ids" {
			if v, e = one(); e != nil {
				return e
			}
		}
		switch name {
		case "FORM_TYPE":
			if v != NS {
				return stanza.ErrBadRequest("the form's FORM_TYPE must be " + NS)
			}
		case "with":
			if v == "" {
				continue
			}
			j, err := jid.Parse(v)
			if err != nil {
				return stanza.NewError(stanza.Modify, stanza.JIDMalformed, "with is not a JID")
			}
			r.with = j
		case "start", "end":
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return stanza.ErrBadRequest(name + " is not a date and time such as 2026-05-01T12:00:00Z (XEP-0082)")
			}
			if name == "start" {
				r.start = t
			} else {
				r.end = t
			}
		case "after-id":
			r.afterID = v
		case "before-id":
			r.beforeID = v
		case "ids":
			for _, id := range values {
				if id != "" {
					r.ids = append(r.ids, id)
				}
			}
			if len(r.ids) > maxIDs {
				return stanza.NewError(stanza.Modify, stanza.PolicyViolation, "at most "+strconv.Itoa(maxIDs)+" ids in one query")
			}
		default:
			return stanza.ErrBadRequest("the server does not know the field " + name)
		}
	}
	return nil
}

// rsm reads the result set request (XEP-0059).
func (r *request) rsm(set *stanza.Element) *stanza.Error {
	for _, c := range set.Elements() {
		if c.NS != NSRSM {
			continue
		}
		v := strings.TrimSpace(c.Content())
		switch c.Name {
		case "max":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return stanza.ErrBadRequest("max must be a whole number, 0 or more")
			}
			r.max = n
		case "after":
			if v == "" {
				return stanza.ErrBadRequest("after needs the id of a message")
			}
			r.after = v
		case "before":
			r.before, r.last = v, true
		case "index":
			return stanza.NewError(stanza.Cancel, stanza.FeatureNotImplemented, "pages by index are not supported; use after or before")
		default:
			return stanza.ErrBadRequest("the result set request has an element the server does not know: " + c.Name)
		}
	}
	if r.after != "" && r.last {
		return stanza.ErrBadRequest("a page is after an id or before one, not both")
	}
	return nil
}

// formElement is the query form (XEP-0313 4.1.1, with #extended's fields).
func formElement() *stanza.Element {
	x := stanza.New("x", stanza.NSDataForms, "type", "form")
	x.Append(stanza.New("field", stanza.NSDataForms, "type", "hidden", "var", "FORM_TYPE").Append(
		stanza.New("value", stanza.NSDataForms).AppendText(NS)))
	for _, f := range [][2]string{
		{"jid-single", "with"}, {"text-single", "start"}, {"text-single", "end"},
		{"text-single", "after-id"}, {"text-single", "before-id"}, {"text-multi", "ids"},
	} {
		x.Append(stanza.New("field", stanza.NSDataForms, "type", f[0], "var", f[1]))
	}
	return stanza.New("query", NS).Append(x)
}
