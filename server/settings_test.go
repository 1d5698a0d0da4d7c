package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stream"
	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestLiveSettings: every setting the registry calls live takes effect on
// the running server, without a restart, by the time `hearth config set`
// (the admin API) returns, and it says no restart is needed.
func TestLiveSettings(t *testing.T) {
	srv := xmpptest.Start(t)
	ctx := context.Background()
	srv.AddUser(t, "alice", "silver-kettle-pw")
	srv.AddUser(t, "bob", "copper-lantern-pw")
	set := func(key, value string) {
		t.Helper()
		restart, err := srv.Admin.SetSetting(ctx, key, value)
		if err != nil {
			t.Fatal(err)
		}
		spec, _ := settings.Lookup(key)
		if restart == spec.Live {
			t.Errorf("set %s: restart needed = %v, but the registry says live = %v", key, restart, spec.Live)
		}
	}
	tested := map[string]bool{}

	// The connection limits first, while this test has no other
	// connections open.
	settled := func(t *testing.T) {
		t.Helper()
		// The server lets connections go when it reads their end.
		for deadline := time.Now().Add(5 * time.Second); ; {
			info, err := srv.Admin.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.Logins.InProgress == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d connections still logging in 5 s after they closed", info.Logins.InProgress)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	opened := func(t *testing.T, from string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte(fmt.Sprintf(header, "hearth.test"))); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run(settings.KeyConnsPerAddress, func(t *testing.T) {
		tested[settings.KeyConnsPerAddress] = true
		set(settings.KeyConnsPerAddress, "2")
		// A logged-in connection counts, as one still logging in does.
		alice := srv.Login(t, "alice", "silver-kettle-pw", "limits")
		a := opened(t, "127.0.0.1")
		readHeader(t, a)
		if got := streamErr(t, opened(t, "127.0.0.1")); got != stream.PolicyViolation {
			t.Fatalf("third connection: %q, want policy-violation", got)
		}
		other := opened(t, "127.0.0.9") // another address is not held up
		readHeader(t, other)
		alice.Abort()
		a.Close()
		other.Close()
		set(settings.KeyConnsPerAddress, settings.Values{}.String(settings.KeyConnsPerAddress))
		settled(t)
	})
	t.Run(settings.KeyUnauthPerAddr, func(t *testing.T) {
		tested[settings.KeyUnauthPerAddr] = true
		set(settings.KeyUnauthPerAddr, "1")
		a := opened(t, "127.0.0.1")
		readHeader(t, a)
		if got := streamErr(t, opened(t, "127.0.0.1")); got != stream.PolicyViolation {
			t.Fatalf("second connection logging in: %q, want policy-violation", got)
		}
		a.Close()
		settled(t)
		// A connection that has logged in gives its place back.
		alice := srv.Login(t, "alice", "silver-kettle-pw", "limits")
		b := opened(t, "127.0.0.1")
		readHeader(t, b)
		alice.Abort()
		b.Close()
		set(settings.KeyUnauthPerAddr, settings.Values{}.String(settings.KeyUnauthPerAddr))
		settled(t)
	})
	t.Run(settings.KeyUnauth, func(t *testing.T) {
		tested[settings.KeyUnauth] = true
		set(settings.KeyUnauth, "2")
		// Full from one busy address: a newcomer from another gets in, and
		// the busy address's oldest waiting connection makes room.
		a := opened(t, "127.0.0.2")
		readHeader(t, a) // admitted before b
		b := opened(t, "127.0.0.2")
		readHeader(t, b)
		c := opened(t, "127.0.0.3")
		readHeader(t, c)
		defer b.Close()
		defer c.Close()
		a.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(a); err != nil {
			t.Fatalf("the oldest connection of the busy address was not dropped: %v", err)
		}
		set(settings.KeyUnauth, settings.Values{}.String(settings.KeyUnauth))
	})
	settled(t)

	t.Run(settings.KeyStanzaBytes, func(t *testing.T) {
		tested[settings.KeyStanzaBytes] = true
		// A headline to an offline account is not stored: the offline test below starts empty.
		big := `<message to='bob@hearth.test' type='headline'><body>` + strings.Repeat("x", 20000) + `</body></message>`
		before := srv.Login(t, "alice", "silver-kettle-pw", "before")
		set(settings.KeyStanzaBytes, "10000")
		small := srv.Login(t, "alice", "silver-kettle-pw", "small")
		small.Send(big)
		if got := small.StreamEnd(); got != stream.PolicyViolation {
			t.Fatalf("a 20 kB stanza on a stream opened after the change: stream end %q, want policy-violation", got)
		}
		// Streams opened before keep the limit they started with.
		before.Send(big)
		before.Ping()
		set(settings.KeyStanzaBytes, "262144")
		again := srv.Login(t, "alice", "silver-kettle-pw", "again")
		again.Send(big)
		again.Ping()
	})

	t.Run(settings.KeyOfflineMessages, func(t *testing.T) {
		tested[settings.KeyOfflineMessages] = true
		alice := srv.Login(t, "alice", "silver-kettle-pw", "phone")
		set(settings.KeyOfflineMessages, "2")
		xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <message to='bob@hearth.test' type='chat' id='q1'><body>one</body></message>
alice sends: <message to='bob@hearth.test' type='chat' id='q2'><body>two</body></message>
alice receives nothing more
alice sends: <message to='bob@hearth.test' type='chat' id='q3'><body>three</body></message>
alice receives: <message to='alice@hearth.test/phone' from='bob@hearth.test' type='error' id='q3'><body>three</body><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>bob has too many messages waiting to be read (2); try again once they have read some</text></error></message>`)
		set(settings.KeyOfflineMessages, "1000")
	})

	t.Run(settings.KeyIdleTimeout, func(t *testing.T) {
		tested[settings.KeyIdleTimeout] = true
		set(settings.KeyIdleTimeout, "200ms")
		alice := srv.Login(t, "alice", "silver-kettle-pw", "idle")
		start := time.Now()
		alice.Expect(`<iq type='get' id='*' from='hearth.test' to='alice@hearth.test/idle'><ping xmlns='urn:xmpp:ping'/></iq>`)
		if waited := time.Since(start); waited > 3*time.Second {
			t.Errorf("pinged after %v", waited)
		}
		set(settings.KeyIdleTimeout, "5m")
	})

	t.Run("contact.admin", func(t *testing.T) {
		for _, s := range settings.All() {
			if strings.HasPrefix(s.Key, "contact.") {
				tested[s.Key] = true // read at each disco query
			}
		}
		alice := srv.Login(t, "alice", "silver-kettle-pw", "disco")
		set("contact.admin", "xmpp:dad@hearth.test")
		alice.Send(`<iq type='get' id='d' to='hearth.test'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
		if el := alice.Next(); !strings.Contains(el.String(), "<value>xmpp:dad@hearth.test</value>") {
			t.Fatalf("disco#info without the new contact: %s", el)
		}
	})

	t.Run("quotas", func(t *testing.T) {
		for _, k := range []string{settings.KeyRosterItems, settings.KeyResources, settings.KeyPrivateBytes, settings.KeyVCardBytes, settings.KeyBlockItems} {
			tested[k] = true
		}
		set(settings.KeyRosterItems, "1")
		set(settings.KeyPrivateBytes, "1024")
		set(settings.KeyVCardBytes, "1024")
		set(settings.KeyBlockItems, "1")
		set(settings.KeyResources, "1")
		alice := srv.Login(t, "alice", "silver-kettle-pw", "quota")
		if _, err := srv.Dial("alice", "silver-kettle-pw", "second"); err == nil || !strings.Contains(err.Error(), "resource-constraint") {
			t.Errorf("a second resource past limits.resources 1: %v, want resource-constraint", err)
		}
		big := strings.Repeat("x", 2000)
		half := strings.Repeat("h", 600) // two of them are over 1 KiB, one is not
		xmpptest.Play(t, map[string]*xmpptest.Client{"alice": alice}, `
alice sends: <iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='one@hearth.test'/></query></iq>
alice receives: <iq type='result' id='r1' from='alice@hearth.test' to='alice@hearth.test/quota'/>
alice sends: <iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='two@hearth.test'/></query></iq>
alice receives: <iq type='error' id='r2' from='alice@hearth.test' to='alice@hearth.test/quota'><query xmlns='jabber:iq:roster'><item jid='two@hearth.test'/></query><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your roster is full: this server keeps at most 1 contact per account; remove something first</text></error></iq>
alice sends: <iq type='set' id='p1'><query xmlns='jabber:iq:private'><big xmlns='urn:example:big'>`+big+`</big></query></iq>
alice receives: <iq type='error' id='p1' from='alice@hearth.test' to='alice@hearth.test/quota'><query xmlns='jabber:iq:private'><big xmlns='urn:example:big'>`+big+`</big></query><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your private storage is full: this server keeps at most 1 KiB per account; remove something first</text></error></iq>
alice sends: <presence to='three@hearth.test' type='subscribe'/>
alice receives: <presence from='three@hearth.test' to='alice@hearth.test/quota' type='error'><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your roster is full: this server keeps at most 1 contact per account; remove something first</text></error></presence>
alice sends: <iq type='set' id='p2'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'>`+half+`</a><b xmlns='urn:example:b'>`+half+`</b></query></iq>
alice receives: <iq type='error' id='p2' from='alice@hearth.test' to='alice@hearth.test/quota'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'>`+half+`</a><b xmlns='urn:example:b'>`+half+`</b></query><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your private storage is full: this server keeps at most 1 KiB per account; remove something first</text></error></iq>
alice sends: <iq type='get' id='p3'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'/></query></iq>
alice receives: <iq type='result' id='p3' from='alice@hearth.test' to='alice@hearth.test/quota'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'/></query></iq>
alice sends: <iq type='set' id='p4'><query xmlns='jabber:iq:private'><a xmlns='urn:example:a'>`+half+`</a></query></iq>
alice receives: <iq type='result' id='p4' from='alice@hearth.test' to='alice@hearth.test/quota'/>
alice sends: <iq type='set' id='v1'><vCard xmlns='vcard-temp'><NOTE>`+big+`</NOTE></vCard></iq>
alice receives: <iq type='error' id='v1' from='alice@hearth.test' to='alice@hearth.test/quota'><vCard xmlns='vcard-temp'><NOTE>`+big+`</NOTE></vCard><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>*</text></error></iq>
alice sends: <iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='x@evil.test'/><item jid='y@evil.test'/></block></iq>
alice receives: <iq type='error' id='b1' from='alice@hearth.test' to='alice@hearth.test/quota'><block xmlns='urn:xmpp:blocking'><item jid='x@evil.test'/><item jid='y@evil.test'/></block><error type='modify'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>your block list is full: this server keeps at most 1 address per account; remove something first</text></error></iq>
alice receives nothing more`)
		for _, k := range []string{settings.KeyRosterItems, settings.KeyPrivateBytes, settings.KeyVCardBytes, settings.KeyBlockItems, settings.KeyResources} {
			set(k, settings.Values{}.String(k))
		}
	})

	t.Run("resume timeout", func(t *testing.T) {
		tested[settings.KeyResumeTimeout] = true
		set(settings.KeyResumeTimeout, "1s")
		alice := srv.Login(t, "alice", "silver-kettle-pw", "sm")
		alice.Send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`)
		alice.Expect(`<enabled xmlns='urn:xmpp:sm:3' id='*' resume='true' max='1'/>`)
		set(settings.KeyResumeTimeout, settings.Values{}.String(settings.KeyResumeTimeout))
	})

	// push.content: TestPush switches it on a running server and reads
	// the notifications.
	tested[settings.KeyPushContent] = true
	// mdns.enabled is the command's (the LAN announcement): TestMDNSLive
	// in package main runs it between network namespaces.
	tested[settings.KeyMDNS] = true
	// linklocal.enabled: TestLANChat in package main turns it off and on
	// on a running server, as a device in another namespace sees it.
	tested[settings.KeyLinkLocal] = true
	// The family circle's keys: TestFamilyCircle switches them on a
	// running server and watches the clients.
	tested[settings.KeyFamilyCircle] = true
	tested[settings.KeyFamilyGroup] = true
	// muc.family_room: TestFamilyRoom renames the room on a running
	// server, and an online client is told of the new bookmark.
	tested[settings.KeyFamilyRoom] = true
	// Federation's keys: TestFederationSpoofing turns federation.block
	// and federation.enabled on and off on a running server (blocked,
	// off); federate turns federation.enabled on in every federation test.
	// federation.allow shares their path (applyFederation, Policy).
	tested[settings.KeyFederation] = true
	tested[settings.KeyFederationBlock] = true
	tested[settings.KeyFederationAllow] = true
	// The archive's keys: TestMAMSettings turns mam.enabled off and on
	// and sets mam.retention on a running server, querying the archive.
	tested[settings.KeyMAM] = true
	tested[settings.KeyMAMRetention] = true
	// fast.token_lifetime: TestFAST's "expired" sets it on a running
	// server, and the next token issued expires by it.
	tested[settings.KeyTokenLifetime] = true
	// Personal eventing's quotas: TestPEPQuota sets them on a running
	// server and publishes past them.
	tested[settings.KeyPEPBytes] = true
	tested[settings.KeyPEPNodes] = true
	// The publish-subscribe service's limits: TestPubsubPagingAndLimits
	// sets them on a running server and goes past each.
	tested[settings.KeyPubsubNodes] = true
	tested[settings.KeyPubsubItems] = true
	tested[settings.KeyPubsubPayload] = true
	tested[settings.KeyPubsubSubscribers] = true
	// The chat rooms' limits: TestMUCLimits sets each on a running
	// server and joins or creates rooms past them.
	tested[settings.KeyMUCRooms] = true
	tested[settings.KeyMUCOccupants] = true
	tested[settings.KeyMUCNick] = true
	tested[settings.KeyMUCRate] = true
	// turn.credential_lifetime: TestTURNCalls sets it on a running server
	// and reads the expiry of the next credentials.
	tested[settings.KeyTURNLifetime] = true
	// File sharing's keys: TestUpload sets upload.max_file_bytes on a
	// running server; TestUploadSettingsLive the others and
	// http.public_url, each applying to the next slot or file.
	tested[settings.KeyUploadMaxFile] = true
	tested[settings.KeyUploadQuota] = true
	tested[settings.KeyUploadDaily] = true
	tested[settings.KeyUploadExpiry] = true
	tested[settings.KeyPublicURL] = true
	// muc.archive_by_default: TestMUCArchiveByDefault switches it on a
	// running server and makes a room each way.
	tested[settings.KeyMUCArchive] = true
	// The scheduled backups' keys are the command's: TestScheduledBackups
	// (backupsched_test.go, package main) changes them on a running
	// server.
	tested[settings.KeyBackupSchedule] = true
	tested[settings.KeyBackupKeep] = true
	tested[settings.KeyBackupDir] = true
	// admin.jids and motd: TestAdhocAdmin names an administrator on a
	// running server (forbidden before, allowed after) and sets the
	// message of the day through XEP-0133, which a new login gets.
	tested[settings.KeyAdmins] = true
	tested[settings.KeyMOTD] = true
	for _, s := range settings.All() {
		if s.Live && !tested[s.Key] {
			t.Errorf("live setting %s has no test that it applies live", s.Key)
		}
	}
}

// TestSettingsKeysAndDefaults: the registry's defaults are the parts'
// own, written down once.
func TestSettingsKeysAndDefaults(t *testing.T) {
	want := map[string]string{
		settings.KeyStanzaBytes:     "262144",
		settings.KeyOfflineMessages: "1000",
		settings.KeyIdleTimeout:     "5m",
		settings.KeyResumeTimeout:   "10m",
		settings.KeyMDNS:            "true",
		settings.KeyLinkLocal:       "true",
		settings.KeyTURN:            "true",
		settings.KeyTURNPort:        "3478",
		settings.KeyTURNTLSPort:     "5349",
		settings.KeyTURNRelayMin:    "49152",
		settings.KeyTURNRelayMax:    "49252",
		settings.KeyTURNLifetime:    "24h",
	}
	v := settings.Values{}
	for k, d := range want {
		if got := v.String(k); got != d {
			t.Errorf("default of %s = %q, want %q", k, got, d)
		}
	}
}
