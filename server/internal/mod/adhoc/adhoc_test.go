package adhoc

import (
	"context"
	"testing"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// testModule has one two-step command that only alice may run.
func testModule() *Module {
	m := New(Deps{Domain: "example.org"})
	m.Add(Command{Node: "urn:example:greet", Name: "Greet",
		Allowed: func(_ context.Context, from jid.JID) bool { return from.Local == "alice" },
		Run: func(_ context.Context, _ jid.JID, in *Form) Step {
			if in == nil {
				x := NewForm("form", "Greet", "", "urn:example:greet")
				AddField(x, "name", "text-single", "Name", true)
				return Step{Form: x}
			}
			return Step{Note: "hello " + in.Value("name")}
		}})
	return m
}

func request(t testing.TB, b []byte) *stanza.Stanza {
	el, err := decode(b)
	if err != nil {
		return nil
	}
	if el.Name != "iq" {
		el = stanza.New("iq", stanza.NSClient, "type", "set", "id", "1").Append(el)
	}
	el.SetAttr("from", "alice@example.org/pc")
	el.SetAttr("to", "example.org")
	st, serr := stanza.Parse(el)
	if serr != nil {
		return nil
	}
	return st
}

func TestCommandSteps(t *testing.T) {
	m := testModule()
	ctx := context.Background()
	st := request(t, []byte(`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet'/>`))
	res, e := m.command(ctx, st)
	if e != nil || res.Attr("status") != "executing" || m.Sessions() != 1 {
		t.Fatalf("execute: %v %v", res, e)
	}
	sid := res.Attr("sessionid")
	st = request(t, []byte(`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet' sessionid='`+sid+`' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='name'><value>Ada</value></field></x></command>`))
	res, e = m.command(ctx, st)
	if e != nil || res.Attr("status") != "completed" || res.ChildText("note", NS) != "hello Ada" || m.Sessions() != 0 {
		t.Fatalf("complete: %v %v", res, e)
	}
	// Another requester cannot run it, nor see it.
	st = request(t, []byte(`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet'/>`))
	st.From = jid.JID{Local: "bob", Domain: "example.org", Resource: "pc"}
	if _, e := m.command(ctx, st); e == nil || e.Condition != stanza.Forbidden {
		t.Fatalf("bob: %v", e)
	}
	if items, _ := m.NodeItems(ctx, NS, st.From); len(items) != 0 {
		t.Fatalf("bob sees %v", items)
	}
	// Sessions per requester are bounded.
	for range MaxSessions + 5 {
		st := request(t, []byte(`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet'/>`))
		if _, e := m.command(ctx, st); e != nil {
			t.Fatal(e)
		}
	}
	if n := m.Sessions(); n != MaxSessions {
		t.Fatalf("%d sessions kept, want %d", n, MaxSessions)
	}
}

// FuzzCommand: any command request is answered or refused without a
// panic, and never leaves more sessions than the bound.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{
		`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet'/>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet' action='cancel'/>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet' action='prev' sessionid='x'/>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='name'><value>A</value></field></x></command>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='urn:example:greet'><x xmlns='jabber:x:data' type='cancel'/></command>`,
		`<command xmlns='http://jabber.org/protocol/commands' node='nothing' action='bogus'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := testModule()
		st := request(t, b)
		if st == nil || st.Payload() == nil {
			return
		}
		res, e := m.command(context.Background(), st)
		if (res == nil) == (e == nil) && res != nil {
			t.Fatalf("both an answer and an error: %v %v", res, e)
		}
		if m.Sessions() > 1 {
			t.Fatalf("%d sessions", m.Sessions())
		}
	})
}
