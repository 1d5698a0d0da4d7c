package modtest

import (
	"runtime"
	"testing"

	"hearth/server/internal/stanza"
)

// recorder is a testing.TB that notes a fatal failure instead of failing
// the test.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(string, ...any) {
	r.failed = true
	runtime.Goexit()
}

// fails reports whether f fails the test it is given.
func fails(t *testing.T, f func(t testing.TB)) bool {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failed
}

func TestEqual(t *testing.T) {
	const got = `<iq xmlns="jabber:client" type="result" id="1"><query xmlns="urn:x" a="1">text<b/></query></iq>`
	tests := []struct {
		name string
		got  string // "" for no element
		want string
		ok   bool
	}{
		{"same", got, got, true},
		{"other spelling", got, `<iq type='result' id='1'><query xmlns='urn:x' a='1'>text<b></b></query></iq>`, true},
		{"attribute order", got, `<iq xmlns="jabber:client" id="1" type="result"><query xmlns="urn:x" a="1">text<b/></query></iq>`, false},
		{"attribute value", got, `<iq xmlns="jabber:client" type="result" id="2"><query xmlns="urn:x" a="1">text<b/></query></iq>`, false},
		{"missing attribute", got, `<iq xmlns="jabber:client" type="result"><query xmlns="urn:x" a="1">text<b/></query></iq>`, false},
		{"namespace", got, `<iq xmlns="jabber:client" type="result" id="1"><query xmlns="urn:y" a="1">text<b/></query></iq>`, false},
		{"text", got, `<iq xmlns="jabber:client" type="result" id="1"><query xmlns="urn:x" a="1">text <b/></query></iq>`, false},
		{"child order", got, `<iq xmlns="jabber:client" type="result" id="1"><query xmlns="urn:x" a="1"><b/>text</query></iq>`, false},
		{"none", "", "", true},
		{"none, want one", "", got, false},
		{"one, want none", got, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var el *stanza.Element
			if tt.got != "" {
				el = Element(t, tt.got)
			}
			if failed := fails(t, func(r testing.TB) { Equal(r, el, tt.want) }); failed == tt.ok {
				t.Errorf("Equal failed = %v, want %v", failed, !tt.ok)
			}
		})
	}
}

func TestAnswer(t *testing.T) {
	res := stanza.New("query", "urn:x")
	tests := []struct {
		name       string
		res        *stanza.Element
		e          *stanza.Error
		want, cond string
		ok         bool
	}{
		{"result", res, nil, `<query xmlns="urn:x"/>`, "", true},
		{"empty result", nil, nil, "", "", true},
		{"wrong result", res, nil, `<query xmlns="urn:y"/>`, "", false},
		{"error, want result", nil, stanza.ErrForbidden(), "", "", false},
		{"error", nil, stanza.ErrForbidden(), "", stanza.Forbidden, true},
		{"other error", nil, stanza.ErrItemNotFound(), "", stanza.Forbidden, false},
		{"result, want error", res, nil, "", stanza.Forbidden, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if failed := fails(t, func(r testing.TB) { Answer(r, tt.res, tt.e, tt.want, tt.cond) }); failed == tt.ok {
				t.Errorf("Answer failed = %v, want %v", failed, !tt.ok)
			}
		})
	}
}

func TestConn(t *testing.T) {
	r := Router()
	s, c := Bind(t, r, "alice@example.org/a")
	if r.Session(s.JID) != s {
		t.Fatal("session not bound")
	}
	el := stanza.New("message", stanza.NSClient, "id", "1")
	s.Conn.Send(el, nil)
	el.SetAttr("id", "2") // recorded as sent
	s.Conn.Send(stanza.New("presence", stanza.NSClient), nil)
	if n := c.Len(); n != 2 {
		t.Fatalf("Len = %d", n)
	}
	want := []string{`<message xmlns="jabber:client" id="1"/>`, `<presence xmlns="jabber:client"/>`}
	if got := c.Take(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Take = %q, want %q", got, want)
	}
	if got := c.Take(); got != nil {
		t.Fatalf("second Take = %q", got)
	}
	if c.Closed() {
		t.Fatal("closed before Close")
	}
	s.Conn.Close("", "")
	if !c.Closed() {
		t.Fatal("Close not recorded")
	}
}
