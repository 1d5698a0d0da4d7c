package admin

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/storage"
)

const domain = "test.home"

// newLocal returns a Local over a fresh database, with an event hub and no
// live hooks.
func newLocal(t *testing.T) *Local {
	t.Helper()
	dir := t.TempDir()
	db, err := storage.Open(t.Context(), filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return &Local{DB: db, Domain: domain, DataDir: dir, Events: NewHub()}
}

// serve serves l on a real admin socket and returns a client of it; the
// server stops with the test.
func serve(t *testing.T, l *Local) API {
	t.Helper()
	ln, err := Listen(l.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	api, err := Dial(l.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.(*Client).Close() })
	return api
}

// eachAPI runs f on a Local and on a socket client of a Local: the two must
// behave the same. setup may fill in live hooks before the Local is used.
func eachAPI(t *testing.T, setup func(*Local), f func(t *testing.T, l *Local, api API)) {
	for _, name := range []string{"local", "socket"} {
		t.Run(name, func(t *testing.T) {
			l := newLocal(t)
			if setup != nil {
				setup(l)
			}
			var api API = l
			if name == "socket" {
				api = serve(t, l)
			}
			f(t, l, api)
		})
	}
}

// checkErr fails unless err matches want (nil: no error).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func userJIDs(t *testing.T, api API) []string {
	t.Helper()
	us, err := api.Users(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, u := range us {
		s := u.JID
		if u.Disabled {
			s += " disabled"
		}
		out = append(out, s)
	}
	return out
}

func TestUsers(t *testing.T) {
	const pw = "correct horse"
	steps := []struct {
		op       string // add, del, passwd, disable, enable
		jid, pw  string
		want     error
		wantList []string // checked when not nil
	}{
		{op: "add", jid: "alice@test.home", pw: pw, wantList: []string{"alice@test.home"}},
		{op: "add", jid: "alice", pw: pw, want: ErrExists},
		{op: "add", jid: "ALICE@Test.Home", pw: pw, want: ErrExists},
		{op: "add", jid: "Bob", pw: pw, wantList: []string{"alice@test.home", "bob@test.home"}},
		{op: "add", jid: "carol@other.example", pw: pw, want: ErrInvalid},
		{op: "add", jid: "carol@test.home/phone", pw: pw, want: ErrInvalid},
		{op: "add", jid: "@test.home", pw: pw, want: ErrInvalid},
		{op: "add", jid: "ca rol", pw: pw, want: ErrInvalid},
		{op: "add", jid: "", pw: pw, want: ErrInvalid},
		{op: "add", jid: "carol", pw: "", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "short", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "aaaaaaaaaaaa", want: ErrInvalid},
		{op: "add", jid: "carolcarol", pw: "carolcarol", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "bad\x00password", want: ErrInvalid},
		// Common passwords, words, keyboard patterns, the user's own name.
		{op: "add", jid: "carol", pw: "password", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "12345678", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "qwertyuiop", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "sunshine123", want: ErrInvalid},
		{op: "add", jid: "carol", pw: "Carol-in-the-garden-2026", want: ErrInvalid},
		{op: "del", jid: "nobody", want: ErrNotFound},
		{op: "del", jid: "nobody@other.example", want: ErrInvalid},
		{op: "passwd", jid: "nobody", pw: pw, want: ErrNotFound},
		{op: "passwd", jid: "alice", pw: "short", want: ErrInvalid},
		{op: "passwd", jid: "alice", pw: "new\u00a0password"},
		{op: "disable", jid: "alice", wantList: []string{"alice@test.home disabled", "bob@test.home"}},
		{op: "disable", jid: "nobody", want: ErrNotFound},
		{op: "enable", jid: "alice@test.home", wantList: []string{"alice@test.home", "bob@test.home"}},
		{op: "del", jid: "bob@test.home", wantList: []string{"alice@test.home"}},
		{op: "del", jid: "bob", want: ErrNotFound},
	}
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx := t.Context()
		for _, s := range steps {
			var err error
			switch s.op {
			case "add":
				err = api.AddUser(ctx, s.jid, s.pw)
			case "del":
				err = api.DeleteUser(ctx, s.jid)
			case "passwd":
				err = api.SetPassword(ctx, s.jid, s.pw)
			case "disable", "enable":
				err = api.SetDisabled(ctx, s.jid, s.op == "disable")
			}
			checkErr(t, s.op+" "+s.jid, err, s.want)
			if s.wantList != nil {
				if got := userJIDs(t, api); !slices.Equal(got, s.wantList) {
					t.Errorf("after %s %s: users %q, want %q", s.op, s.jid, got, s.wantList)
				}
			}
		}
		// The password was PRECIS-prepared: the no-break space became a
		// space (RFC 8265 4.2.1), as a SCRAM client prepares it too.
		u, err := l.DB.User(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !u.SHA256.Verify("new password", sha256.New) {
			t.Error("prepared password does not verify")
		}
		if u.SHA256.Verify(pw, sha256.New) {
			t.Error("old password still verifies")
		}
	})
}

func TestRoster(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx := t.Context()
		for _, u := range []string{"alice", "bob"} {
			if err := api.AddUser(ctx, u, "correct horse"); err != nil {
				t.Fatal(err)
			}
		}
		// bob is subscribed both ways already: an update keeps that.
		if _, err := l.DB.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "bob@test.home", Subscription: "both"}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			op, user string
			item     RosterItem
			want     error
			wantList []RosterItem
		}{
			{op: "add", user: "alice", item: RosterItem{JID: "Dad@Example.ORG", Name: "Dad", Groups: []string{"Family", "Family"}},
				wantList: []RosterItem{
					{JID: "bob@test.home", Subscription: "both"},
					{JID: "dad@example.org", Name: "Dad", Subscription: "none", Groups: []string{"Family"}},
				}},
			{op: "add", user: "alice@test.home", item: RosterItem{JID: "bob@test.home", Name: "Bobby", Subscription: "none"},
				wantList: []RosterItem{
					{JID: "bob@test.home", Name: "Bobby", Subscription: "both"},
					{JID: "dad@example.org", Name: "Dad", Subscription: "none", Groups: []string{"Family"}},
				}},
			{op: "add", user: "nobody", item: RosterItem{JID: "bob@test.home"}, want: ErrNotFound},
			{op: "add", user: "alice", item: RosterItem{JID: "bob@test.home/phone"}, want: ErrInvalid},
			{op: "add", user: "alice", item: RosterItem{JID: "alice@test.home"}, want: ErrInvalid},
			{op: "add", user: "alice", item: RosterItem{JID: "bob@test.home", Groups: []string{""}}, want: ErrInvalid},
			{op: "add", user: "alice", item: RosterItem{JID: "@@"}, want: ErrInvalid},
			{op: "list", user: "nobody", want: ErrNotFound},
			{op: "del", user: "alice", item: RosterItem{JID: "dad@example.org"},
				wantList: []RosterItem{{JID: "bob@test.home", Name: "Bobby", Subscription: "both"}}},
			{op: "del", user: "alice", item: RosterItem{JID: "dad@example.org"}, want: ErrNotFound},
			{op: "del", user: "nobody", item: RosterItem{JID: "dad@example.org"}, want: ErrNotFound},
			{op: "list", user: "bob", wantList: []RosterItem{}},
		}
		for _, s := range steps {
			var err error
			switch s.op {
			case "add":
				err = api.AddRosterItem(ctx, s.user, s.item)
			case "del":
				err = api.RemoveRosterItem(ctx, s.user, s.item.JID)
			case "list":
				_, err = api.Roster(ctx, s.user)
			}
			checkErr(t, s.op+" "+s.user+" "+s.item.JID, err, s.want)
			if s.wantList != nil {
				got, err := api.Roster(ctx, s.user)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.EqualFunc(got, s.wantList, rosterEqual) {
					t.Errorf("after %s %s: roster %+v, want %+v", s.op, s.item.JID, got, s.wantList)
				}
			}
		}
	})
}

func rosterEqual(a, b RosterItem) bool {
	return a.JID == b.JID && a.Name == b.Name && a.Subscription == b.Subscription && a.Ask == b.Ask && slices.Equal(a.Groups, b.Groups)
}

func TestSettings(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx := t.Context()
		for _, s := range []struct {
			key, value  string
			want        error
			stored      string
			wantRestart bool
		}{
			{key: "mdns.enabled", value: "off", stored: "false"},
			{key: "mdns.enabled", value: "TRUE", stored: "true"},
			{key: "mdns.enabled", value: "maybe", want: ErrInvalid},
			{key: "federation.enabled", value: "1", stored: "true"},
			{key: "federation.enabled", value: "off", stored: "false"},
			{key: "federation.block", value: "Spam.Example, evil.example", stored: "spam.example evil.example"},
			{key: "federation.allow", value: "alice@example.org", want: ErrInvalid},
			// Settings of features this build does not have are refused.
			{key: "registration.enabled", value: "no", want: ErrInvalid},
			{key: "domain", value: "Example.ORG", stored: "example.org", wantRestart: true},
			{key: "domain", value: "alice@example.org", want: ErrInvalid},
			{key: "domain", value: "", want: ErrInvalid},
			{key: "tls.mode", value: "LOCAL", stored: "local", wantRestart: true},
			{key: "tls.mode", value: "acme", stored: "acme", wantRestart: true},
			{key: "tls.mode", value: "bogus", want: ErrInvalid},
			{key: "acme.dns_provider", value: "DuckDNS", stored: "duckdns", wantRestart: true},
			{key: "acme.dns_provider", value: "route53", want: ErrInvalid},
			{key: "acme.dns_token", value: "s3cret-token", stored: "s3cret-token", wantRestart: true},
			{key: "limits.stanza_bytes", value: "65536", stored: "65536"}, // live: new connections
			{key: "limits.stanza_bytes", value: "12x", want: ErrInvalid},
			{key: "limits.stanza_bytes", value: "100", want: ErrInvalid},
			{key: "limits.offline_messages", value: "500", stored: "500"}, // live
			{key: "limits.offline_messages", value: "0", want: ErrInvalid},
			{key: "c2s.idle_timeout", value: "90s", stored: "90s"}, // live: new sessions
			{key: "c2s.idle_timeout", value: "-1s", want: ErrInvalid},
			{key: "c2s.idle_timeout", value: "5", want: ErrInvalid},
			{key: "contact.admin", value: "mailto:dad@example.org, xmpp:dad@example.org", stored: "mailto:dad@example.org xmpp:dad@example.org"},
			{key: "contact.abuse", value: "dad at home", want: ErrInvalid},
			{key: "contact.support", value: "", stored: ""},
			{key: "no.such.key", value: "x", want: ErrInvalid},
		} {
			restart, err := api.SetSetting(ctx, s.key, s.value)
			checkErr(t, "set "+s.key+" "+s.value, err, s.want)
			if err != nil {
				continue
			}
			if restart != s.wantRestart {
				t.Errorf("set %s: restart %v, want %v", s.key, restart, s.wantRestart)
			}
			if got, err := l.Setting(ctx, s.key); err != nil || got != s.stored {
				t.Errorf("set %s %q: stored %q, %v, want %q", s.key, s.value, got, err, s.stored)
			}
		}

		all, err := api.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][2]string{ // key: value, default
			"domain":                  {"example.org", ""},
			"tls.mode":                {"acme", "auto"},
			"acme.dns_provider":       {"duckdns", "none"},
			"acme.dns_token":          {"(set)", ""}, // a credential is never listed
			"tls.cert_file":           {"", ""},
			"mdns.enabled":            {"true", "true"},
			"limits.stanza_bytes":     {"65536", "262144"},
			"limits.offline_messages": {"500", "1000"},
			"contact.security":        {"", ""},
			"contact.feedback":        {"", ""},
			"contact.sales":           {"", ""},
			"contact.admin":           {"mailto:dad@example.org xmpp:dad@example.org", ""},
			"contact.abuse":           {"", ""},
			"contact.support":         {"", ""},
			"c2s.idle_timeout":        {"90s", "5m"},
		}
		for _, s := range all {
			w, ok := want[s.Key]
			if !ok {
				continue
			}
			delete(want, s.Key)
			if s.Value != w[0] || s.Default != w[1] || s.Help == "" {
				t.Errorf("setting %s: value %q default %q help %q, want %q, %q and some help", s.Key, s.Value, s.Default, s.Help, w[0], w[1])
			}
		}
		for k := range want {
			t.Errorf("setting %s not listed", k)
		}
		// The kind of each value, for the GUI's widgets.
		kinds := map[string]Setting{
			"mdns.enabled":        {Kind: "bool"},
			"tls.mode":            {Kind: "enum", Enum: []string{"auto", "acme", "local", "files"}},
			"limits.stanza_bytes": {Kind: "int", Min: 10000},
			"c2s.idle_timeout":    {Kind: "duration"},
			"acme.dns_token":      {Kind: "string", Secret: true},
			"domain":              {Kind: "domain"},
			"contact.admin":       {Kind: "uris"},
		}
		for _, s := range all {
			w, ok := kinds[s.Key]
			if !ok {
				continue
			}
			if s.Kind != w.Kind || !slices.Equal(s.Enum, w.Enum) || s.Min != w.Min || s.Secret != w.Secret {
				t.Errorf("setting %s: kind %q enum %q min %d secret %v, want %q %q %d %v", s.Key, s.Kind, s.Enum, s.Min, s.Secret, w.Kind, w.Enum, w.Min, w.Secret)
			}
		}
	})
}

func TestSettingTyped(t *testing.T) {
	l := newLocal(t)
	ctx := t.Context()
	v, err := l.Values(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.Int("limits.stanza_bytes"); n != 262144 {
		t.Errorf("stanza_bytes = %d", n)
	}
	if d := v.Duration("c2s.idle_timeout"); d != 5*time.Minute {
		t.Errorf("idle_timeout = %v", d)
	}
	if b := v.Bool("mdns.enabled"); !b {
		t.Errorf("mdns.enabled = %v", b)
	}
	// A value stored behind the registry's back counts as the default.
	if err := l.DB.SetSetting(ctx, "limits.offline_messages", "lots"); err != nil {
		t.Fatal(err)
	}
	if v, err = l.Values(ctx); err != nil {
		t.Fatal(err)
	}
	if n := v.Int("limits.offline_messages"); n != 1000 {
		t.Errorf("offline_messages = %d", n)
	}
	if _, err := l.Setting(ctx, "nope"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown key: %v", err)
	}
}

// next returns the next event or fails after a while.
func next(t *testing.T, ch <-chan Event) Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

func TestWatch(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx, cancel := context.WithCancel(t.Context())
		events := api.Watch(ctx)
		steps := []struct {
			do   func() error
			want Event
		}{
			{func() error { return api.AddUser(ctx, "alice", "correct horse") }, Event{Kind: EventUsers, JID: "alice@test.home"}},
			{func() error { return api.AddUser(ctx, "bob", "correct horse") }, Event{Kind: EventUsers, JID: "bob@test.home"}},
			{func() error { return api.SetDisabled(ctx, "bob", true) }, Event{Kind: EventUsers, JID: "bob@test.home"}},
			{func() error { return api.AddRosterItem(ctx, "alice", RosterItem{JID: "bob@test.home"}) }, Event{Kind: EventRoster, JID: "alice@test.home"}},
			{func() error { return api.RemoveRosterItem(ctx, "alice", "bob@test.home") }, Event{Kind: EventRoster, JID: "alice@test.home"}},
			{func() error { _, err := api.SetSetting(ctx, "mdns.enabled", "false"); return err }, Event{Kind: EventSettings, Key: "mdns.enabled"}},
			{func() error { return api.DeleteUser(ctx, "bob") }, Event{Kind: EventUsers, JID: "bob@test.home"}},
		}
		for i, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got := next(t, events); got != s.want {
				t.Errorf("step %d: event %+v, want %+v", i, got, s.want)
			}
		}
		// A failed change publishes nothing.
		if err := api.AddUser(ctx, "alice", "correct horse"); !errors.Is(err, ErrExists) {
			t.Errorf("add again: %v", err)
		}
		cancel()
		for ev := range events {
			t.Errorf("unexpected event %+v", ev)
		}
	})
}

// hooks records what the live hooks were asked to do.
type hooks struct {
	db       *storage.DB
	info     Info
	sessions []Session

	mu     sync.Mutex
	kicked []string
	put    []string
	remove []string
	added  []string
	mutual []string
}

func (h *hooks) Info() Info          { return h.info }
func (h *hooks) Sessions() []Session { return h.sessions }

func (h *hooks) Kick(full string) bool {
	h.record(&h.kicked, full)
	return full == "alice@test.home/phone"
}

// Console shows alice's phone: one frame each way, then nothing until
// ctx is done.
func (h *hooks) Console(ctx context.Context, full string) (<-chan ConsoleFrame, bool) {
	if full != "alice@test.home/phone" {
		return nil, false
	}
	ch := make(chan ConsoleFrame, 2)
	ch <- ConsoleFrame{Dir: DirIn, XML: "<presence/>"}
	ch <- ConsoleFrame{Dir: DirOut, XML: "<presence from='alice@test.home/phone'/>"}
	context.AfterFunc(ctx, func() { close(ch) })
	return ch, true
}

func (h *hooks) CloseSessions(user string)                    { h.record(&h.kicked, user) }
func (h *hooks) SettingChanged(context.Context, string) error { return nil }

func (h *hooks) TestFederation(_ context.Context, domain string) []FederationStep {
	return []FederationStep{{Name: "DNS", OK: true, Detail: "asked about " + domain}}
}

func (h *hooks) UserRemoved(_ context.Context, user string) { h.record(&h.kicked, user) }
func (h *hooks) UserAdded(_ context.Context, user string) error {
	h.record(&h.added, user)
	return nil
}

func (h *hooks) LabelRoster(ctx context.Context, user, contact, name string, groups []string) error {
	h.record(&h.put, user+" "+contact)
	_, _, err := h.db.LabelRosterItem(ctx, user, contact, name, groups)
	return err
}

func (h *hooks) RemoveRoster(ctx context.Context, user, contact string) error {
	h.record(&h.remove, user+" "+contact)
	_, err := h.db.DeleteRosterItem(ctx, user, contact)
	return err
}

func (h *hooks) MakeMutual(ctx context.Context, user, contact string) error {
	h.record(&h.mutual, user+" "+contact)
	_, _, _, err := h.db.MutualRosterItem(ctx, user, contact, "", "")
	return err
}

func (h *hooks) record(s *[]string, v string) {
	h.mu.Lock()
	*s = append(*s, v)
	h.mu.Unlock()
}

func (h *hooks) get(s *[]string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(*s)
}

func TestLiveHooks(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sessions := []Session{
		{JID: "alice@test.home/phone", Addr: "192.0.2.1:40000", Since: started, Secure: true, Presence: "available"},
		{JID: "alice@test.home/laptop", Addr: "192.0.2.2:40000", Since: started, Secure: true, Presence: "dnd", Priority: 5},
	}
	var h *hooks
	setup := func(l *Local) {
		h = &hooks{db: l.DB, info: Info{Domain: domain, Version: "1.2.3", Started: started, Running: true, DataDir: l.DataDir,
			Listeners: []Listener{{Name: "c2s", Addr: "127.0.0.1:5222"}}}, sessions: sessions}
		l.Live = h
	}
	eachAPI(t, setup, func(t *testing.T, l *Local, api API) {
		ctx := t.Context()
		info, err := api.Info(ctx)
		if err != nil || !info.Running || info.Version != "1.2.3" || !info.Started.Equal(started) || len(info.Listeners) != 1 {
			t.Errorf("Info = %+v, %v", info, err)
		}
		got, err := api.Sessions(ctx)
		if err != nil || !slices.EqualFunc(got, sessions, func(a, b Session) bool {
			return a.JID == b.JID && a.Addr == b.Addr && a.Since.Equal(b.Since) && a.Secure == b.Secure && a.Presence == b.Presence && a.Priority == b.Priority
		}) {
			t.Errorf("Sessions = %+v, %v", got, err)
		}
		for _, u := range []string{"alice", "bob"} {
			if err := api.AddUser(ctx, u, "correct horse"); err != nil {
				t.Fatal(err)
			}
		}
		us, err := api.Users(ctx)
		if err != nil || len(us) != 2 || us[0].Sessions != 2 || us[1].Sessions != 0 {
			t.Errorf("Users = %+v, %v", us, err)
		}

		checkErr(t, "kick phone", api.Kick(ctx, "alice@test.home/phone"), nil)
		checkErr(t, "kick tablet", api.Kick(ctx, "alice@test.home/tablet"), ErrNotFound)
		checkErr(t, "kick bare", api.Kick(ctx, "alice@test.home"), ErrInvalid)

		_, err = api.Console(ctx, "alice@test.home/tablet")
		checkErr(t, "console tablet", err, ErrNotFound)
		_, err = api.Console(ctx, "alice@test.home")
		checkErr(t, "console bare", err, ErrInvalid)
		cctx, stop := context.WithCancel(ctx)
		frames, err := api.Console(cctx, "alice@test.home/phone")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []ConsoleFrame{{Dir: DirIn, XML: "<presence/>"}, {Dir: DirOut, XML: "<presence from='alice@test.home/phone'/>"}} {
			if f := <-frames; f != want {
				t.Errorf("console frame %+v, want %+v", f, want)
			}
		}
		stop()
		if _, ok := <-frames; ok {
			t.Error("console goes on after its context ended")
		}
		checkErr(t, "passwd", api.SetPassword(ctx, "alice", "another horse"), nil)
		checkErr(t, "disable", api.SetDisabled(ctx, "bob", true), nil)
		checkErr(t, "enable", api.SetDisabled(ctx, "bob", false), nil) // kicks nobody
		checkErr(t, "delete", api.DeleteUser(ctx, "bob"), nil)
		want := []string{"alice@test.home/phone", "alice@test.home/tablet", "alice", "bob", "bob"}
		if got := h.get(&h.kicked); !slices.Equal(got, want) {
			t.Errorf("kicked %q, want %q", got, want)
		}

		checkErr(t, "roster add", api.AddRosterItem(ctx, "alice", RosterItem{JID: "dad@example.org", Subscription: "both"}), nil)
		checkErr(t, "roster add nobody", api.AddRosterItem(ctx, "nobody", RosterItem{JID: "dad@example.org"}), ErrNotFound)
		// The subscription is the server's: an admin add sets labels only.
		if it, err := l.DB.RosterItem(ctx, "alice", "dad@example.org"); err != nil || it.Subscription != "none" {
			t.Errorf("added item = %+v, %v; want subscription none", it, err)
		}
		checkErr(t, "roster del", api.RemoveRosterItem(ctx, "alice", "dad@example.org"), nil)
		checkErr(t, "roster del again", api.RemoveRosterItem(ctx, "alice", "dad@example.org"), ErrNotFound)
		checkErr(t, "roster del nobody", api.RemoveRosterItem(ctx, "nobody", "dad@example.org"), ErrNotFound)
		if got, want := h.get(&h.put), []string{"alice dad@example.org", "nobody dad@example.org"}; !slices.Equal(got, want) {
			t.Errorf("LabelRoster calls %q, want %q", got, want)
		}
		if got, want := h.get(&h.remove), []string{"alice dad@example.org", "alice dad@example.org"}; !slices.Equal(got, want) {
			t.Errorf("RemoveRoster calls %q, want %q", got, want)
		}
	})
}

func TestOffline(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		ctx := t.Context()
		info, err := api.Info(ctx)
		if err != nil || info.Running || info.Domain != domain || info.DataDir != l.DataDir {
			t.Errorf("Info = %+v, %v", info, err)
		}
		if ss, err := api.Sessions(ctx); err != nil || len(ss) != 0 {
			t.Errorf("Sessions = %+v, %v", ss, err)
		}
		checkErr(t, "kick", api.Kick(ctx, "alice@test.home/phone"), ErrOffline)
	})
}

// TestCheckDatabase: the database check says a sound database has no
// problems, and brings the problems of a damaged one to the caller,
// through the socket as in-process.
func TestCheckDatabase(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		if problems, err := api.CheckDatabase(t.Context()); problems != nil || err != nil {
			t.Errorf("CheckDatabase = %q, %v; want no problems", problems, err)
		}
	})
	l := newLocal(t)
	damage(t, l)
	want, err := l.DB.QuickCheck(t.Context())
	if err != nil || len(want) == 0 {
		t.Fatalf("QuickCheck of the damaged database = %q, %v", want, err)
	}
	for name, api := range map[string]API{"local": l, "socket": serve(t, l)} {
		if problems, err := api.CheckDatabase(t.Context()); !slices.Equal(problems, want) || err != nil {
			t.Errorf("%s: CheckDatabase = %q, %v; want %q", name, problems, err, want)
		}
	}
}

// damage fills l's database with messages, then closes it, overwrites its
// last page with junk and opens it again.
func damage(t *testing.T, l *Local) {
	t.Helper()
	ctx := t.Context()
	if err := l.AddUser(ctx, "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := l.DB.StoreOffline(ctx, "alice", "bob@example.org", make([]byte, 1000), 0); err != nil {
			t.Fatal(err)
		}
	}
	path := l.DB.Path()
	if err := l.DB.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(b) - 4096; i < len(b); i++ {
		b[i] = 0xff
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if l.DB, err = storage.Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.DB.Close() })
}

func TestHub(t *testing.T) {
	var nilHub *Hub
	nilHub.Publish(Event{Kind: EventUsers}) // no panic

	var zero Hub // usable
	zctx, zcancel := context.WithCancel(t.Context())
	zch := zero.Subscribe(zctx)
	zero.Publish(Event{Kind: EventUsers})
	if ev := <-zch; ev.Kind != EventUsers {
		t.Errorf("zero hub delivered %+v", ev)
	}
	zcancel()

	h := NewHub()
	ctx, cancel := context.WithCancel(t.Context())
	slow := h.Subscribe(ctx)
	fast := h.Subscribe(ctx)
	// Publish never blocks: the slow subscriber never reads, the fast one
	// gets every event.
	n := hubBuffer + 10
	for i := range n {
		ev := Event{Kind: EventUsers, JID: string(rune('a' + i%26))}
		h.Publish(ev)
		if got := <-fast; got != ev {
			t.Fatalf("event %d: %+v, want %+v", i, got, ev)
		}
	}
	cancel()
	lost := 0
	for range slow {
		lost++
	}
	if lost != hubBuffer {
		t.Errorf("slow subscriber got %d events, want its buffer's %d", lost, hubBuffer)
	}
	h.Publish(Event{Kind: EventUsers}) // after unsubscribing: no panic
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 20 {
		p, err := NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != passwordLength || seen[p] {
			t.Errorf("password %q: wrong length or repeated", p)
		}
		seen[p] = true
		if q, err := preparePassword(p, "alice"); err != nil || q != p {
			t.Errorf("preparePassword(%q) = %q, %v", p, q, err)
		}
	}
}

// TestBadUserWords: an address that is not an account's says why in plain
// words, and what would do.
func TestBadUserWords(t *testing.T) {
	l := newLocal(t)
	for in, want := range map[string]string{
		"Grandma Rose@test.home": "a name cannot contain spaces: try grandma.rose@test.home",
		"@test.home":             `"@test.home" has no name before the @: give a name such as grandma@test.home`,
		"a:b":                    `a name cannot contain any of " & ' / : < > @`,
		"carol@other.example":    `"carol@other.example" is not on this server's domain test.home`,
	} {
		err := l.AddUser(context.Background(), in, "silver-kettle-pw")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("add %q: %v, want %q", in, err, want)
		}
	}
}

// TestFamilyCircleOffWithoutServer: switching the family circle off with
// no server running forgets whom it took in, as a running server does,
// so that switching it on again pairs everyone anew at the next start.
func TestFamilyCircleOffWithoutServer(t *testing.T) {
	ctx := t.Context()
	l := newLocal(t)
	if err := l.AddUser(ctx, "alice", "silver-kettle-pw"); err != nil {
		t.Fatal(err)
	}
	if err := l.DB.JoinFamilyCircle(ctx, "alice", "Family"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetSetting(ctx, "family.circle", "off"); err != nil {
		t.Fatal(err)
	}
	if in, err := l.DB.FamilyCircle(ctx); err != nil || len(in) != 0 {
		t.Errorf("the circle after it was switched off: %v, %v; want no one", in, err)
	}
}

// TestTestFederation: the federation test runs in the running server, over
// the socket as in the process; without a server, or for something that is
// not a domain, it says so.
func TestTestFederation(t *testing.T) {
	eachAPI(t, nil, func(t *testing.T, l *Local, api API) {
		_, err := api.TestFederation(t.Context(), "example.org")
		checkErr(t, "no server", err, ErrOffline)
		l.Live = &hooks{}
		_, err = api.TestFederation(t.Context(), "alice@example.org")
		checkErr(t, "a JID", err, ErrInvalid)
		steps, err := api.TestFederation(t.Context(), "Example.ORG")
		if err != nil || len(steps) != 1 || steps[0].Detail != "asked about example.org" {
			t.Fatalf("steps %+v, %v", steps, err)
		}
	})
}
