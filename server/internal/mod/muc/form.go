package muc

import (
	"hearth/server/internal/stanza"
)

// Form is a submitted data form (XEP-0004): its type and each field's
// values by var.
type Form struct {
	Type   string
	Fields map[string][]string
}

// ParseForm reads a jabber:x:data form; nil when x is not one.
func ParseForm(x *stanza.Element) *Form {
	if x == nil || x.Name != "x" || x.NS != stanza.NSDataForms {
		return nil
	}
	f := &Form{Type: x.Attr("type"), Fields: map[string][]string{}}
	for _, fe := range x.Elements() {
		if fe.Name != "field" || fe.NS != stanza.NSDataForms {
			continue
		}
		v := fe.Attr("var")
		if v == "" {
			continue
		}
		vals := []string{}
		for _, ve := range fe.Elements() {
			if ve.Name == "value" && ve.NS == stanza.NSDataForms {
				vals = append(vals, ve.Content())
			}
		}
		f.Fields[v] = vals
	}
	return f
}

// Value returns a field's first value and whether it was given.
func (f *Form) Value(v string) (string, bool) {
	vals, ok := f.Fields[v]
	if !ok {
		return "", false
	}
	if len(vals) == 0 {
		return "", true
	}
	return vals[0], true
}

// Bool reads a boolean field ("1", "true"); ok is false when absent or not
// a boolean.
func (f *Form) Bool(v string) (b, ok bool) {
	s, given := f.Value(v)
	if !given {
		return false, false
	}
	switch s {
	case "1", "true":
		return true, true
	case "0", "false", "":
		return false, true
	}
	return false, false
}

// form builders.
func dataForm(typ string, fields ...*stanza.Element) *stanza.Element {
	return stanza.New("x", stanza.NSDataForms, "type", typ).Append(fields...)
}

func field(v, typ, label string, values ...string) *stanza.Element {
	f := stanza.New("field", stanza.NSDataForms, "var", v, "type", typ, "label", label)
	for _, val := range values {
		f.Append(stanza.New("value", stanza.NSDataForms).AppendText(val))
	}
	return f
}

func hidden(v, value string) *stanza.Element { return field(v, "hidden", "", value) }

func boolField(v, label string, b bool) *stanza.Element {
	s := "0"
	if b {
		s = "1"
	}
	return field(v, "boolean", label, s)
}

func listField(v, label, value string, options ...string) *stanza.Element {
	f := field(v, "list-single", label, value)
	for _, o := range options {
		f.Append(stanza.New("option", stanza.NSDataForms).Append(stanza.New("value", stanza.NSDataForms).AppendText(o)))
	}
	return f
}
