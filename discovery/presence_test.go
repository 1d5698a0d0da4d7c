package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/miekg/dns"

	"hearth/internal/netns"
)

// The presence helper's environment: the instances it publishes.
const envInstances = "HEARTH_LL_INSTANCES"

// presenceTXT is what the presence helper publishes, then changes to.
var (
	presenceBefore = Presence{First: "Alice", Last: "Liddell", Nick: "alice", Status: StatusAvail, Port: 5298}
	presenceAfter  = Presence{First: "Alice", Last: "Liddell", Nick: "alice", Status: StatusAway, Msg: "out for lunch", Port: 5298}
)

// TestPresenceSeenByAvahi publishes _presence._tcp instances in one
// namespace and watches them with avahi in the other: the TXT record, its
// update, a rename on a name avahi holds, a new address, a withdrawal and
// the goodbyes at shutdown.
func TestPresenceSeenByAvahi(t *testing.T) {
	pair := netns.NewPair(t, "p", "q")
	peer := startAvahi(t, pair, 1, "hostb", true)
	iface := pair.Iface[1]

	// avahi holds carol@hosta first: ours must be renamed.
	peer.start(t, "avahi-publish", "-s", "carol@hosta", ServicePresence, "5298", "txtvers=1")
	watch, _ := peer.start(t, "avahi-browse", "-r", "-p", ServicePresence)
	waitOutput(t, watch, "=;"+iface+";IPv4;"+avahiEscape("carol@hosta")+";", 5*time.Second)

	ann := pair.StartHelper(t, 0, "presence", envHost+"=hosta", envInstances+"=alice@hosta,bob@hosta,carol@hosta")
	published := map[string]bool{}
	for len(published) < 3 {
		ev := ann.Next(t, time.Now().Add(5*time.Second))
		if ev.Event == "published" {
			published[ev.Instance] = true
		}
	}
	for _, name := range []string{"alice@hosta", "bob@hosta", "carol@hosta (2)"} {
		if !published[name] {
			t.Errorf("published %v, want %q among them", published, name)
		}
	}
	t.Logf("publisher's log:\n%s", ann.Stderr())

	// The TXT record of XEP-0174, as avahi resolves it (it prints the
	// strings last first).
	check := func(what, instance, addr string, p Presence, d time.Duration) {
		t.Helper()
		began := time.Now()
		var last string
		for {
			last = peer.run(t, "avahi-browse", "-r", "-t", "-p", ServicePresence)
			if f := resolvedLine(last, iface, instance); f != nil && f[6] == "hosta.local" && f[7] == addr && f[8] == "5298" &&
				f[9] == avahiTXT(p.TXT()) {
				t.Logf("%s: avahi resolved %s after %v", what, instance, time.Since(began))
				return
			}
			if time.Since(began) > d {
				t.Fatalf("%s: avahi-browse did not resolve %s at %s with TXT %s:\n%s", what, instance, addr, avahiTXT(p.TXT()), last)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	check("published", "alice@hosta", pair.Addr[0], presenceBefore, 5*time.Second)
	check("renamed", "carol@hosta (2)", pair.Addr[0], presenceBefore, 5*time.Second)
	// Over IPv6 too (avahi-browse names the type "iChat Presence"), and
	// the host name has the veth's link-local address.
	if out := peer.run(t, "avahi-browse", "-r", "-t", "-p", ServicePresence); !strings.Contains(out, "=;"+iface+";IPv6;"+avahiEscape("alice@hosta")+";") {
		t.Errorf("avahi-browse did not resolve alice@hosta over IPv6:\n%s", out)
	}
	if out := peer.run(t, "avahi-resolve", "-6", "-n", "hosta.local"); !strings.HasPrefix(out, "hosta.local\tfe80::") {
		t.Errorf("avahi-resolve -6 hosta.local: %q", out)
	}

	ann.Signal(t, syscall.SIGUSR1)
	if ev := ann.Next(t, time.Now().Add(2*time.Second)); ev.Event != "updated" {
		t.Fatalf("presence helper: %+v, want updated", ev)
	}
	check("TXT updated", "alice@hosta", pair.Addr[0], presenceAfter, 5*time.Second)

	// A new address on the veth: announced again, and resolved by name.
	newAddr := pair.Addr[0][:strings.LastIndexByte(pair.Addr[0], '.')] + ".11"
	netns.MustRun(t, "ip", "-n", pair.NS[0], "addr", "del", pair.Addr[0]+"/24", "dev", pair.Iface[0])
	netns.MustRun(t, "ip", "-n", pair.NS[0], "addr", "add", newAddr+"/24", "dev", pair.Iface[0])
	check("address changed", "alice@hosta", newAddr, presenceAfter, 10*time.Second)
	if got := peer.run(t, "avahi-resolve", "-4", "-n", "hosta.local"); got != "hosta.local\t"+newAddr+"\n" {
		t.Errorf("avahi-resolve after the address change: %q, want %s", got, newAddr)
	}

	// Withdrawn: avahi drops it on the goodbye.
	ann.Signal(t, syscall.SIGUSR2)
	began := time.Now()
	waitOutput(t, watch, "-;"+iface+";IPv4;"+avahiEscape("alice@hosta")+";", 3*time.Second)
	t.Logf("avahi saw alice@hosta withdrawn %v after the signal", time.Since(began))

	// Shutdown: goodbyes for the others.
	began = time.Now()
	if code := ann.Stop(t); code != 0 {
		t.Errorf("presence helper: exit code %d\n%s", code, ann.Stderr())
	}
	for _, name := range []string{"bob@hosta", "carol@hosta (2)"} {
		waitOutput(t, watch, "-;"+iface+";IPv4;"+avahiEscape(name)+";", 3*time.Second)
	}
	t.Logf("avahi saw the others removed %v after SIGTERM", time.Since(began))
	if strings.Contains(watch.String(), "-;"+iface+";IPv4;"+avahiEscape("carol@hosta")+";") {
		t.Errorf("avahi's own carol@hosta was removed:\n%s", watch.String())
	}
}

// TestBrowserSeesAvahiPeers runs Browser in one namespace against
// instances avahi publishes in the other: found with TXT and addresses,
// updated, removed, and a malformed TXT record survived.
func TestBrowserSeesAvahiPeers(t *testing.T) {
	pair := netns.NewPair(t, "r", "s")
	peer := startAvahi(t, pair, 1, "hostb", true)
	br := pair.StartHelper(t, 0, "llbrowse")
	if ev := br.Next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("browser: %+v, want ready", ev)
	}
	// await skips other events until one for instance of kind arrives.
	await := func(kind, instance string, d time.Duration) netns.Event {
		t.Helper()
		deadline := time.Now().Add(d)
		for {
			ev := br.Next(t, deadline)
			if ev.Event == kind && ev.Instance == instance {
				return ev
			}
			t.Logf("browser: %s %s", ev.Event, ev.Instance)
		}
	}

	began := time.Now()
	_, stopDave := peer.start(t, "avahi-publish", "-s", "dave@hostb", ServicePresence, "5298", "txtvers=1", "1st=Dave", "status=avail")
	ev := await("add", "dave@hostb", 5*time.Second)
	t.Logf("dave@hostb found after %v: %+v", time.Since(began), ev)
	// Added comes with the first address; the other family may follow
	// as an update.
	for !contains(ev.IPv4, pair.Addr[1]) {
		ev = await("update", "dave@hostb", 3*time.Second)
		t.Logf("dave@hostb updated after %v: %+v", time.Since(began), ev)
	}
	if ev.Host != "hostb.local." || ev.Port != 5298 || !strings.Contains(strings.Join(ev.TXT, " "), "1st=Dave") ||
		!contains(ev.IPv4, pair.Addr[1]) {
		t.Errorf("dave@hostb: %+v; want host hostb.local., port 5298, 1st=Dave, IPv4 %s", ev, pair.Addr[1])
	}
	for _, a := range ev.IPv6 {
		if strings.HasPrefix(a, "fe80:") && !strings.HasSuffix(a, "%"+pair.Iface[0]) {
			t.Errorf("link-local %s without the zone %s", a, pair.Iface[0])
		}
	}

	// A TXT update through avahi's D-Bus API (avahi-publish cannot).
	g := newAvahiGroup(t, peer, "erin@hostb", 5299, []string{"txtvers=1", "status=avail"})
	await("add", "erin@hostb", 5*time.Second)
	g.updateTXT(t, []string{"txtvers=1", "status=away", "msg=back soon"})
	began = time.Now()
	for {
		ev := await("update", "erin@hostb", 5*time.Second)
		if p, _ := ParsePresence(ev.TXT); p.Status == StatusAway && p.Msg == "back soon" {
			break
		}
	}
	t.Logf("erin@hostb's new TXT seen after %v", time.Since(began))
	g.free(t)
	began = time.Now()
	await("remove", "erin@hostb", 3*time.Second)
	t.Logf("erin@hostb removed %v after avahi freed it", time.Since(began))

	stopDave()
	began = time.Now()
	await("remove", "dave@hostb", 3*time.Second)
	t.Logf("dave@hostb removed %v after avahi-publish stopped", time.Since(began))

	// Malformed TXT strings: logged, skipped, no crash.
	peer.start(t, "avahi-publish", "-s", "mallory@hostb", ServicePresence, "5298",
		"=novalue", "txtvers=2", "status=sleeping", "port.p2pj=99999", "\xff\xfe=bin", "1st=Mallory", "1st=again")
	ev = await("add", "mallory@hostb", 5*time.Second)
	if p, _ := ParsePresence(ev.TXT); p.First != "Mallory" || p.Status != StatusAvail || p.Port != 0 {
		t.Errorf("mallory@hostb read as %+v", p)
	}
	peer.start(t, "avahi-publish", "-s", "frank@hostb", ServicePresence, "5298", "txtvers=1")
	await("add", "frank@hostb", 5*time.Second)

	// avahi's host moves to another address: an update with it alone.
	newAddr := pair.Addr[1][:strings.LastIndexByte(pair.Addr[1], '.')] + ".22"
	netns.MustRun(t, "ip", "-n", pair.NS[1], "addr", "del", pair.Addr[1]+"/24", "dev", pair.Iface[1])
	netns.MustRun(t, "ip", "-n", pair.NS[1], "addr", "add", newAddr+"/24", "dev", pair.Iface[1])
	began = time.Now()
	for {
		ev := await("update", "frank@hostb", 10*time.Second)
		if len(ev.IPv4) == 1 && ev.IPv4[0] == newAddr {
			break
		}
	}
	t.Logf("frank@hostb's new address seen after %v", time.Since(began))
	if !strings.Contains(br.Stderr(), "TXT record has errors") {
		t.Errorf("the browser did not log the malformed TXT record:\n%s", br.Stderr())
	}
	t.Logf("browser's log:\n%s", br.Stderr())
}

// TestPresenceRenamedOnLateConflict: another host starts answering for a
// published name; the instance probes again and takes another name.
func TestPresenceRenamedOnLateConflict(t *testing.T) {
	pair := netns.NewPair(t, "c", "d")
	ann := pair.StartHelper(t, 0, "presence", envHost+"=hosta", envInstances+"=alice@hosta")
	if ev := ann.Next(t, time.Now().Add(5*time.Second)); ev.Event != "published" || ev.Instance != "alice@hosta" {
		t.Fatalf("presence helper: %+v", ev)
	}
	pair.StartHelper(t, 1, "rogue", envInstances+"=alice@hosta")
	if ev := ann.Next(t, time.Now().Add(5*time.Second)); ev.Event != "renamed" || ev.Instance != "alice@hosta (2)" {
		t.Fatalf("presence helper: %+v, want renamed to alice@hosta (2)\n%s", ev, ann.Stderr())
	}
	t.Logf("publisher's log:\n%s", ann.Stderr())
}

// rogueHelper claims the instance of envInstances for another host
// without probing, every 200 ms for 3 s.
func rogueHelper(t *testing.T, ifi net.Interface) {
	c, err := listenGroup(group4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	full := instanceName(os.Getenv(envInstances), ServicePresence)
	flush := uint16(dns.ClassINET | classTopBit)
	m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}, Answer: []dns.RR{
		&dns.PTR{Hdr: dns.RR_Header{Name: ServicePresence + ".local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 120}, Ptr: full},
		&dns.SRV{Hdr: dns.RR_Header{Name: full, Rrtype: dns.TypeSRV, Class: flush, Ttl: 120}, Port: 1234, Target: "rogue.local."},
		&dns.TXT{Hdr: dns.RR_Header{Name: full, Rrtype: dns.TypeTXT, Class: flush, Ttl: 120}, Txt: []string{"txtvers=1"}},
	}}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for range 15 {
		if err := c.write(b, ifi.Index, group4); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestBrowserSurvivesFlood: a host announces 2000 instances at once; the
// browser takes in only what its rate allows, says so, and still finds a
// real peer afterwards.
func TestBrowserSurvivesFlood(t *testing.T) {
	pair := netns.NewPair(t, "f", "g")
	br := pair.StartHelper(t, 0, "llbrowse")
	if ev := br.Next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("browser: %+v, want ready", ev)
	}
	flood := pair.StartHelper(t, 1, "flood")
	if code := flood.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("flood helper: exit code %d\n%s", code, flood.Stderr())
	}
	pair.StartHelper(t, 1, "presence", envHost+"=hostb", envInstances+"=legit@hostb")
	began := time.Now()
	for !strings.Contains(br.Stdout(), `"event":"add","service":"_presence._tcp","instance":"legit@hostb"`) {
		if time.Since(began) > 10*time.Second {
			t.Fatalf("legit@hostb not found after the flood:\n%s", br.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	spam := strings.Count(br.Stdout(), `"instance":"spam`)
	t.Logf("after a flood of 2000, the browser reported %d of them and found legit@hostb %v after it started", spam, time.Since(began))
	if spam == 0 || spam > 400 {
		t.Errorf("%d spam instances reported, want some but far fewer than 2000", spam)
	}
	if !strings.Contains(br.Stderr(), "too many services announced on the LAN") {
		t.Errorf("the browser did not log the flood:\n%s", br.Stderr())
	}
}

// floodHelper announces 2000 instances of rogue.local in packets of 10.
func floodHelper(t *testing.T, ifi net.Interface) {
	c, err := listenGroup(group4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := ifaceAddrs(ifi)
	for batch := range 200 {
		m := &dns.Msg{MsgHdr: dns.MsgHdr{Response: true, Authoritative: true}}
		for i := range 10 {
			full := instanceName(fmt.Sprintf("spam%04d@rogue", batch*10+i), ServicePresence)
			m.Answer = append(m.Answer,
				&dns.PTR{Hdr: dns.RR_Header{Name: ServicePresence + ".local.", Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: 120}, Ptr: full},
				&dns.SRV{Hdr: dns.RR_Header{Name: full, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 120}, Port: 1, Target: "rogue.local."},
				&dns.TXT{Hdr: dns.RR_Header{Name: full, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 120}, Txt: []string{"txtvers=1"}})
		}
		for _, ip := range addr {
			if ip.To4() != nil {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: "rogue.local.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 120}, A: ip})
			}
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.write(b, ifi.Index, group4); err != nil {
			t.Fatal(err)
		}
		if batch%20 == 19 {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// avahiGroup is an avahi entry group made over D-Bus, for what
// avahi-publish cannot do (change a TXT record).
type avahiGroup struct {
	conn       *dbus.Conn
	obj        dbus.BusObject
	name, kind string
}

func newAvahiGroup(t *testing.T, peer *avahiPeer, name string, port int, txt []string) *avahiGroup {
	t.Helper()
	conn, err := dbus.Connect(peer.bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var path dbus.ObjectPath
	if err := conn.Object("org.freedesktop.Avahi", "/").Call("org.freedesktop.Avahi.Server.EntryGroupNew", 0).Store(&path); err != nil {
		t.Fatal(err)
	}
	g := &avahiGroup{conn: conn, obj: conn.Object("org.freedesktop.Avahi", path), name: name, kind: ServicePresence}
	g.call(t, "AddService", int32(-1), int32(-1), uint32(0), name, g.kind, "", "", uint16(port), txtBytes(txt))
	g.call(t, "Commit")
	return g
}

func (g *avahiGroup) updateTXT(t *testing.T, txt []string) {
	t.Helper()
	g.call(t, "UpdateServiceTxt", int32(-1), int32(-1), uint32(0), g.name, g.kind, "", txtBytes(txt))
}

func (g *avahiGroup) free(t *testing.T) { t.Helper(); g.call(t, "Free") }

func (g *avahiGroup) call(t *testing.T, method string, args ...any) {
	t.Helper()
	if err := g.obj.Call("org.freedesktop.Avahi.EntryGroup."+method, 0, args...).Err; err != nil {
		t.Fatalf("avahi %s: %v", method, err)
	}
}

func txtBytes(txt []string) [][]byte {
	b := make([][]byte, len(txt))
	for i, s := range txt {
		b[i] = []byte(s)
	}
	return b
}

// waitOutput waits until a long-lived tool's output holds s.
func waitOutput(t *testing.T, out *netns.SyncBuffer, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v in:\n%s", s, d, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resolvedLine finds in avahi-browse -r -p output the IPv4 "=" line of
// instance on iface, split into its fields.
func resolvedLine(out, iface, instance string) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(line, ";", 10)
		if len(f) == 10 && f[0] == "=" && f[1] == iface && f[2] == "IPv4" && f[3] == avahiEscape(instance) {
			return f
		}
	}
	return nil
}

// avahiEscape writes a label as avahi-browse -p does: letters, digits, -
// and _ as they are, "." and "\" after a backslash, other bytes as \DDD.
func avahiEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	return b.String()
}

// avahiTXT is how avahi-browse -p prints a TXT record: each string
// quoted, the last first.
func avahiTXT(txt []string) string {
	q := make([]string, len(txt))
	for i, s := range txt {
		q[len(txt)-1-i] = strconv.Quote(s)
	}
	return strings.Join(q, " ")
}

// presenceHelper publishes the instances of envInstances as host
// envHost; SIGUSR1 changes the first one's TXT, SIGUSR2 withdraws it,
// SIGTERM closes the responder.
func presenceHelper(t *testing.T, ifi net.Interface) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	r, err := NewResponder(ResponderConfig{Host: os.Getenv(envHost), Ifaces: []net.Interface{ifi}, Poll: 500 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	emit := func(ev netns.Event) {
		ev.At = time.Now()
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(ev)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM)
	names := strings.Split(os.Getenv(envInstances), ",")
	insts := make([]*Instance, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			in, err := r.Publish(context.Background(), ServiceInstance{Instance: name, Service: ServicePresence, Port: 5298, TXT: presenceBefore.TXT(),
				Renamed: func(name string) { emit(netns.Event{Event: "renamed", Instance: name}) }})
			if err != nil {
				t.Error(err)
				return
			}
			insts[i] = in
			emit(netns.Event{Event: "published", Instance: in.Name()})
		})
	}
	wg.Wait()
	for sig := range sigs {
		switch sig {
		case syscall.SIGUSR1:
			if err := insts[0].SetTXT(presenceAfter.TXT()); err != nil {
				t.Error(err)
			}
			emit(netns.Event{Event: "updated", Instance: insts[0].Name()})
		case syscall.SIGUSR2:
			insts[0].Withdraw()
			emit(netns.Event{Event: "withdrawn", Instance: insts[0].Name()})
		case syscall.SIGTERM:
			r.Close()
			return
		}
	}
}

// browseHelper runs a Browser for _presence._tcp and prints its events.
func browseHelper(t *testing.T, ifi net.Interface) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 25*time.Second)
	defer cancel()
	enc := json.NewEncoder(os.Stdout)
	enc.Encode(netns.Event{Event: "ready", At: time.Now()})
	err := Browse(ctx, BrowserConfig{Service: ServicePresence, Ifaces: []net.Interface{ifi}, OnEvent: func(ev BrowseEvent) {
		out := netns.Event{Event: ev.Kind.String(), Service: ev.Entry.Service, Instance: ev.Entry.Instance,
			Host: ev.Entry.Host, Port: ev.Entry.Port, TXT: ev.Entry.TXT, At: time.Now()}
		for _, a := range ev.Entry.Addrs {
			if a.IP.To4() != nil {
				out.IPv4 = append(out.IPv4, a.String())
			} else {
				out.IPv6 = append(out.IPv6, a.String())
			}
		}
		enc.Encode(out)
	}}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
}
