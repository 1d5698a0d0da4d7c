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
