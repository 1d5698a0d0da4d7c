package stanza

import "testing"

// TestErrorReplyEcho: an error reply repeats a small stanza's children
// and leaves out a large one's (a client whose 200 KiB requests are
// refused does not get 200 KiB back for each).
func TestErrorReplyEcho(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		wire int
		echo bool
	}{
		{KindIQ, 300, true}, {KindIQ, maxEchoed + 1, false},
		{KindMessage, 300, true}, {KindMessage, 200 << 10, false},
		{KindMessage, 0, true}, // made by the server, small
	} {
		name := map[Kind]string{KindIQ: "iq", KindMessage: "message"}[c.kind]
		el := New(name, NSClient, "type", "set", "id", "a1").Append(New("data", "urn:example:bulk"))
		el.Wire = c.wire
		st := &Stanza{El: el, Kind: c.kind, Type: "set", ID: "a1"}
		r := st.ErrorReply(ErrServiceUnavailable())
		if got := r.Child("data", "urn:example:bulk") != nil; got != c.echo {
			t.Errorf("%s of %d bytes: payload echoed %v, want %v", name, c.wire, got, c.echo)
		}
		if r.Child("error", "") == nil || r.Attr("type") != "error" || r.Attr("id") != "a1" {
			t.Errorf("%s of %d bytes: reply %s", name, c.wire, r)
		}
	}
}

// TestErrorReplyEchoServerMade: a large stanza the server made (no wire
// size) is not echoed either.
func TestErrorReplyEchoServerMade(t *testing.T) {
	el := New("message", NSClient, "id", "m1").Append(New("body", NSClient).AppendText(string(make([]byte, 64<<10))))
	st := &Stanza{El: el, Kind: KindMessage, ID: "m1"}
	if r := st.ErrorReply(ErrServiceUnavailable()); r.Child("body", "") != nil {
		t.Errorf("a 64 KiB message the server made was echoed")
	}
}
