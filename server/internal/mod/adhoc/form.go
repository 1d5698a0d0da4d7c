package adhoc

import (
	"errors"

	"hearth/server/internal/stanza"
)

// Bounds on a submitted form: far above what any command asks for.
const (
	maxFields = 64
	maxValues = 256
)

// Form is a submitted data form (XEP-0004): its type and each field's
// values, in order.
type Form struct {
	Type   string
	Fields []Field
}

// Field is one field of a submitted form.
type Field struct {
	Var    string
	Values []string
}

var errForm = errors.New("the data form is not valid (XEP-0004)")

// ParseForm reads a jabber:x:data form: type submit, cancel, form or
// result; fields with a var (others are left out, as fixed fields have
// none), each var once, a bounded number of fields and values.
func ParseForm(x *stanza.Element) (*Form, error) {
	if x == nil || x.Name != "x" || x.NS != stanza.NSDataForms {
		return nil, errForm
	}
	f := &Form{Type: x.Attr("type")}
	switch f.Type {
	case "submit", "cancel", "form", "result":
	default:
		return nil, errors.New("the data form has no type submit, cancel, form or result")
	}
	seen := map[string]bool{}
	for _, c := range x.Children {
		if c.Name != "field" || c.NS != stanza.NSDataForms {
			continue
		}
		v := c.Attr("var")
		if v == "" {
			continue
		}
		if seen[v] {
			return nil, errors.New("the data form has the field " + v + " twice")
		}
		seen[v] = true
		if len(f.Fields) == maxFields {
			return nil, errors.New("the data form has too many fields")
		}
		fd := Field{Var: v}
		for _, vc := range c.Children {
			if vc.Name != "value" || vc.NS != stanza.NSDataForms {
				continue
			}
			if len(fd.Values) == maxValues {
				return nil, errors.New("the field " + v + " has too many values")
			}
			fd.Values = append(fd.Values, vc.Content())
		}
		f.Fields = append(f.Fields, fd)
	}
	return f, nil
}

// Values returns the values of the field v (nil: none or no such field).
func (f *Form) Values(v string) []string {
	if f == nil {
		return nil
	}
	for _, fd := range f.Fields {
		if fd.Var == v {
			return fd.Values
		}
	}
	return nil
}

// Value returns the first value of the field v, or "".
func (f *Form) Value(v string) string {
	if vs := f.Values(v); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// FormType is the hidden FORM_TYPE field's value, or "".
func (f *Form) FormType() string { return f.Value("FORM_TYPE") }

// NewForm starts a data form of type typ (form or result) with a title,
// instructions (may be empty) and the hidden FORM_TYPE formType (may be
// empty).
func NewForm(typ, title, instructions, formType string) *stanza.Element {
	x := stanza.New("x", stanza.NSDataForms, "type", typ)
	if title != "" {
		x.Append(stanza.New("title", stanza.NSDataForms).AppendText(title))
	}
	if instructions != "" {
		x.Append(stanza.New("instructions", stanza.NSDataForms).AppendText(instructions))
	}
	if formType != "" {
		AddField(x, "FORM_TYPE", "hidden", "", false, formType)
	}
	return x
}

// AddField appends a field to a form built with NewForm.
func AddField(x *stanza.Element, v, typ, label string, required bool, values ...string) *stanza.Element {
	f := stanza.New("field", stanza.NSDataForms, "var", v, "type", typ)
	if label != "" {
		f.SetAttr("label", label)
	}
	if required {
		f.Append(stanza.New("required", stanza.NSDataForms))
	}
	for _, val := range values {
		f.Append(stanza.New("value", stanza.NSDataForms).AppendText(val))
	}
	x.Append(f)
	return f
}

// AddOption appends an option to a list field.
func AddOption(field *stanza.Element, label, value string) {
	field.Append(stanza.New("option", stanza.NSDataForms, "label", label).
		Append(stanza.New("value", stanza.NSDataForms).AppendText(value)))
}
