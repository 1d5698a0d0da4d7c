package server_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"hearth/server"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/server/xmpptest"
)

// withModule adds a module to the test server.
func withModule(build func(*router.Router) any) xmpptest.Option {
	return func(c *server.Config) { c.Modules = append(c.Modules, build) }
}

// deliveryTap is a module that watches the delivery path: every stanza a
// session gets, whoever sent it.
type deliveryTap struct {
	mu  sync.Mutex
	got []string // "to kind type first-child"
}

func (d *deliveryTap) Register(mux *router.Mux) { mux.ObserveDelivery(d) }

func (d *deliveryTap) Delivering(_ context.Context, s *router.Session, el *stanza.Element) {
	what := s.JID.String() + " " + el.Name + " " + el.Attr("type")
	if c := el.FirstElement(); c != nil {
		what += " " + c.Name
	}
	d.mu.Lock()
	d.got = append(d.got, what)
	d.mu.Unlock()
}

func (d *deliveryTap) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	got := d.got
	d.got = nil
	return got
}

// TestOneDeliveryPath: presence broadcasts, offline flushes, roster pushes
// and IQ results all reach sessions through the router's Deliver, where
// one observer sees them (stream management and client state indication
// hook in there).
func TestOneDeliveryPath(t *testing.T) {
	tap := &deliveryTap{}
	srv := xmpptest.Start(t, withModule(func(*router.Router) any { return tap }))
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	clients := map[string]*xmpptest.Client{"alice": alice}

	steps := []struct {
		name   string
		script func()
		want   []string // in order, among what the tap saw
	}{
		{"IQ result", func() {
			xmpptest.Play(t, clients, `
alice sends: <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'/></iq>`)
		}, []string{"alice@hearth.test/phone iq result query"}},
		{"roster push", func() {
			xmpptest.Play(t, clients, `
alice sends: <iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='bob@hearth.test'/></query></iq>
alice receives: <iq type='set' id='*' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster' ver='*'><item jid='bob@hearth.test' subscription='none'/></query></iq>
alice receives: <iq type='result' id='r2' from='alice@hearth.test' to='alice@hearth.test/phone'/>`)
		}, []string{"alice@hearth.test/phone iq set query", "alice@hearth.test/phone iq result"}},
		{"presence broadcast", func() {
			xmpptest.Play(t, clients, `
alice sends: <presence/>
alice receives: <presence from='alice@hearth.test/phone' to='alice@hearth.test/phone'/>`)
		}, []string{"alice@hearth.test/phone presence "}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.script()
			alice.Ping()
			got := tap.take()
			// The barrier's own answer comes last.
			if n := len(got); n == 0 || !strings.HasSuffix(got[n-1], " iq result") {
				t.Fatalf("tap saw %q; want the ping's answer last", got)
			}
			if got = got[:len(got)-1]; !slices.Equal(got, st.want) {
				t.Fatalf("tap saw %q\nwant %q", got, st.want)
			}
		})
	}

	t.Run("offline flush", func(t *testing.T) {
		alice.Send(`<message to='bob@hearth.test' type='chat'><body>while you were out</body></message>`)
		alice.Ping() // stored once this is answered
		tap.take()
		bob := srv.Login(t, "bob", "copper-lantern-pw", "laptop")
		bob.Send(`<presence/>`)
		bob.Expect(`<message from='alice@hearth.test/phone' to='bob@hearth.test/laptop' type='chat'><body>while you were out</body><delay xmlns='urn:xmpp:delay' from='hearth.test' stamp='*'>Offline storage</delay></message>`)
		got := tap.take()
		if !slices.Contains(got, "bob@hearth.test/laptop message chat body") {
			t.Fatalf("tap saw %q; want the flushed message", got)
		}
	})
}

// conferenceHost stands in for a service on a subdomain (echo.<domain>): it
// echoes every message back to its sender from the room.
type conferenceHost struct {
	r   *router.Router
	mu  sync.Mutex
	got []string
}

func (c *conferenceHost) Register(mux *router.Mux) {
	mux.Host("echo.hearth.test", func(ctx context.Context, st *stanza.Stanza) *stanza.Error {
		c.mu.Lock()
		c.got = append(c.got, st.Kind.String()+" from "+st.From.String()+" to "+st.To.String())
		c.mu.Unlock()
		if st.Kind != stanza.KindMessage {
			return stanza.ErrServiceUnavailable()
		}
		echo := stanza.New("message", stanza.NSClient, "type", "groupchat", "from", st.To.String()+"/echo", "to", st.From.String())
		echo.Append(st.El.Child("body", ""))
		out, _ := stanza.Parse(echo)
		c.r.Route(ctx, out)
		return nil
	})
}

// TestLocalHost: a stanza to a local host (echo.<domain>) reaches the host
// registered for it and is never bounced as another domain's; the host's
// answers reach the client, and the server lists it in disco#items.
func TestLocalHost(t *testing.T) {
	host := &conferenceHost{}
	srv := xmpptest.Start(t, withModule(func(r *router.Router) any { host.r = r; return host }))
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <message to='family@echo.hearth.test' type='groupchat'><body>hello room</body></message>
alice receives: <message type='groupchat' from='family@echo.hearth.test/echo' to='alice@hearth.test/phone'><body>hello room</body></message>
alice sends: <iq type='get' id='i1' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>
alice receives: <iq type='result' id='i1' from='hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#items'><item jid='conference.hearth.test'/><item jid='echo.hearth.test'/><item jid='pubsub.hearth.test'/><item jid='upload.hearth.test'/></query></iq>
alice sends: <iq type='get' id='h1' to='echo.hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>
alice receives: <iq type='error' id='h1' from='echo.hearth.test' to='alice@hearth.test/phone'><query xmlns='http://jabber.org/protocol/disco#info'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <message to='room@conference.elsewhere.test' type='groupchat'><body>not local</body></message>
alice receives: <message type='error' from='room@conference.elsewhere.test' to='alice@hearth.test/phone'><body>not local</body><error type='cancel'><remote-server-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>this server does not federate with other servers (federation is off)</text></error></message>
alice receives nothing more`)
	want := []string{
		"message from alice@hearth.test/phone to family@echo.hearth.test",
		"iq from alice@hearth.test/phone to echo.hearth.test",
	}
	host.mu.Lock()
	defer host.mu.Unlock()
	if !slices.Equal(host.got, want) {
		t.Fatalf("host got %q\nwant %q", host.got, want)
	}
}

// TestDeletedAccountForgotten: an account deleted through the admin API
// and created again starts afresh: every module forgot the old one (its
// cached block list among them).
func TestDeletedAccountForgotten(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='spammer@evil.test'/></block></iq>
alice receives: <iq type='result' id='b1' from='alice@hearth.test' to='alice@hearth.test/phone'/>
alice sends: <iq type='get' id='b2'><blocklist xmlns='urn:xmpp:blocking'/></iq>
alice receives: <iq type='result' id='b2' from='alice@hearth.test' to='alice@hearth.test/phone'><blocklist xmlns='urn:xmpp:blocking'><item jid='spammer@evil.test'/></blocklist></iq>`)
	if err := srv.Admin.DeleteUser(ctx, "alice@hearth.test"); err != nil {
		t.Fatal(err)
	}
	if got := alice.StreamEnd(); got != "not-authorized" {
		t.Fatalf("the deleted account's stream ended with %q, want not-authorized", got)
	}
	srv.AddUser(t, "alice", "new-secret-pw")
	again := srv.Login(t, "alice", "new-secret-pw", "phone")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": again}, `
alice sends: <iq type='get' id='b3'><blocklist xmlns='urn:xmpp:blocking'/></iq>
alice receives: <iq type='result' id='b3' from='alice@hearth.test' to='alice@hearth.test/phone'><blocklist xmlns='urn:xmpp:blocking'/></iq>
alice receives nothing more`)
}

// TestModulesKeepTheirAnswers: what modules answered before they
// registered on the mux, they answer still, where the mux alone would have
// said something else.
func TestModulesKeepTheirAnswers(t *testing.T) {
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
	xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
# Any element of the roster namespace is the roster module's (RFC 6121 2.1.5).
alice sends: <iq type='get' id='r1'><item xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='error' id='r1' from='alice@hearth.test' to='alice@hearth.test/phone'><item xmlns='jabber:iq:roster'/><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <iq type='get' id='r2' to='hearth.test'><query xmlns='jabber:iq:roster'/></iq>
alice receives: <iq type='error' id='r2' from='hearth.test' to='alice@hearth.test/phone'><query xmlns='jabber:iq:roster'/><error type='auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
# A refused registration set never echoes what it held (XEP-0077 3.3).
alice sends: <iq type='set' id='g1'><password xmlns='jabber:iq:register'>secret</password></iq>
alice receives: <iq type='error' id='g1' from='alice@hearth.test' to='alice@hearth.test/phone'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
# A get-only feature refuses a set; an unknown payload is unavailable.
alice sends: <iq type='set' id='p1' to='hearth.test'><ping xmlns='urn:xmpp:ping'/></iq>
alice receives: <iq type='error' id='p1' from='hearth.test' to='alice@hearth.test/phone'><ping xmlns='urn:xmpp:ping'/><error type='cancel'><not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice sends: <iq type='get' id='p2' to='hearth.test'><nothing xmlns='urn:example:nothing'/></iq>
alice receives: <iq type='error' id='p2' from='hearth.test' to='alice@hearth.test/phone'><nothing xmlns='urn:example:nothing'/><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>
alice receives nothing more`)
}
