package router_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// TestRequest: an IQ the server sends in an account's name gets its
// answer back from the address it went to: a result, an error, the
// server's own error when it could not be delivered, or none in time; an
// answer with the right id from another address is not taken for it.
func TestRequest(t *testing.T) {
	r := modtest.Router()
	svc := jid.MustParse("push.example.org")
	r.Mux().Host("push.example.org", func(ctx context.Context, st *stanza.Stanza) *stanza.Error {
		if st.Kind != stanza.KindIQ {
			return nil
		}
		answer := func(from jid.JID, typ string, el *stanza.Element) {
			r.Route(ctx, &stanza.Stanza{El: el, Kind: stanza.KindIQ, Type: typ, ID: st.ID, From: from, To: st.From})
		}
		switch st.Payload().Name {
		case "ok":
			go answer(svc, "result", st.Result(nil))
		case "refuse":
			return stanza.NewError(stanza.Cancel, stanza.ItemNotFound, "no such node")
		case "forged":
			// Another host answers with the same id: not the answer.
			el := st.Result(nil)
			el.SetAttr("from", "evil.example.org")
			go answer(jid.MustParse("evil.example.org"), "result", el)
		}
		return nil
	})
	alice := jid.MustParse("alice@example.org")
	ask := func(name string, d time.Duration) (*stanza.Stanza, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return r.Request(ctx, alice, svc, "set", stanza.New(name, "urn:example:test"))
	}
	if a, err := ask("ok", 5*time.Second); err != nil || a.Type != "result" || a.From != svc {
		t.Errorf("ok: %v %v, want a result from the service", a, err)
	}
	if a, err := ask("refuse", 5*time.Second); err != nil || a.Type != "error" || stanza.ErrorOf(a.El).Condition != stanza.ItemNotFound {
		t.Errorf("refuse: %v %v, want the item-not-found the service sent", a, err)
	}
	if a, err := ask("forged", 200*time.Millisecond); !errors.Is(err, router.ErrNoAnswer) {
		t.Errorf("forged: %v %v, want no answer", a, err)
	}
	gone := jid.MustParse("elsewhere.example.net")
	if a, err := r.Request(context.Background(), alice, gone, "get", stanza.New("q", "urn:example:test")); err != nil || a.Type != "error" || stanza.ErrorOf(a.El).Condition != stanza.RemoteServerNotFound {
		t.Errorf("to a domain with no route: %v %v, want remote-server-not-found", a, err)
	}
}
