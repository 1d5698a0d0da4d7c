package adhoc

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// decode reads one element in jabber:client.
func decode(b []byte) (*stanza.Element, error) {
	d := stream.NewDecoder(io.MultiReader(strings.NewReader(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`), bytes.NewReader(b)), stream.Limits{})
	if _, err := d.Header(); err != nil {
		return nil, err
	}
	return d.Next()
}

func TestParseForm(t *testing.T) {
	for _, tc := range []struct {
		xml string
		ok  bool
		get map[string][]string
	}{
		{`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field><field var='accountjids'><value>a@b</value><value>c@b</value></field><field var='empty'/></x>`, true,
			map[string][]string{"FORM_TYPE": {"http://jabber.org/protocol/admin"}, "accountjids": {"a@b", "c@b"}, "empty": nil, "none": nil}},
		{`<x xmlns='jabber:x:data' type='cancel'/>`, true, nil},
		{`<x xmlns='jabber:x:data' type='result'><field type='fixed'><value>text</value></field><field var='n'><value/></field></x>`, true, map[string][]string{"n": {""}}},
		{`<x xmlns='jabber:x:data'/>`, false, nil},
		{`<x xmlns='jabber:x:data' type='other'/>`, false, nil},
		{`<x xmlns='urn:example' type='submit'/>`, false, nil},
		{`<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>`, false, nil},
		{`<x xmlns='jabber:x:data' type='submit'>` + strings.Repeat(`<field var='a'><value/></field>`, 1) + strings.Repeat(`<field var='b'>`+strings.Repeat(`<value>v</value>`, 257)+`</field>`, 1) + `</x>`, false, nil},
	} {
		el, err := decode([]byte(tc.xml))
		if err != nil {
			t.Fatalf("%s: %v", tc.xml, err)
		}
		f, err := ParseForm(el)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.xml, err, tc.ok)
			continue
		}
		for k, want := range tc.get {
			if got := f.Values(k); strings.Join(got, "|") != strings.Join(want, "|") || (got == nil) != (want == nil) && k != "empty" {
				t.Errorf("%s: %s = %q, want %q", tc.xml, k, got, want)
			}
		}
	}
	var many strings.Builder
	many.WriteString(`<x xmlns='jabber:x:data' type='submit'>`)
	for i := range maxFields + 1 {
		many.WriteString(`<field var='f` + strings.Repeat("x", i) + `'/>`)
	}
	many.WriteString(`</x>`)
	el, _ := decode([]byte(many.String()))
	if _, err := ParseForm(el); err == nil {
		t.Error("a form with too many fields was taken")
	}
}

// FuzzParseForm: any element parses or is refused without a panic, and a
// form taken keeps within the bounds and names each field once.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field><field var='accountjid'><value>a@b</value></field></x>`,
		`<x xmlns='jabber:x:data' type='cancel'/>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='a'/><field var='a'/></x>`,
		`<x xmlns='jabber:x:data' type='form'><field var='body' type='text-multi'><value>one</value><value>two</value><option><value>x</value></option></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field><value>no var</value></field><item/></x>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		el, err := decode(b)
		if err != nil {
			return
		}
		form, err := ParseForm(el)
		if err != nil {
			return
		}
		if len(form.Fields) > maxFields {
			t.Fatalf("%d fields", len(form.Fields))
		}
		seen := map[string]bool{}
		for _, fd := range form.Fields {
			if fd.Var == "" || seen[fd.Var] || len(fd.Values) > maxValues {
				t.Fatalf("field %+v", fd)
			}
			seen[fd.Var] = true
		}
	})
}
