package discovery

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"hearth/internal/netns"
)

// These tests run mDNS only between network namespaces of their own, joined
// by a veth pair with private addresses (hearth/internal/netns): never on
// this machine's real interfaces. The test process re-executes its own
// binary inside them as TestHelperProcess in a role.

// The announcer's environment.
const (
	envInstance = "HEARTH_MDNS_INSTANCE"
	envHost     = "HEARTH_MDNS_HOST"
	envDomain   = "HEARTH_MDNS_DOMAIN"
	envPort     = "HEARTH_MDNS_PORT"
	envTLSPort  = "HEARTH_MDNS_TLS_PORT"
)

// helperLife bounds a browser helper that nobody stops.
const helperLife = 10 * time.Second

func TestAnnounceBetweenNamespaces(t *testing.T) {
	pair := netns.NewPair(t, "s", "d")
	want := Announcement{
		Instance: "Hearth on family.local",
		Host:     "family",
		Port:     25222,
		TLSPort:  25223,
		Domain:   "family.local",
	}
	wantTXT := []string{"txtvers=1", "domain=family.local"}
	wantAddr := pair.Addr[0]

	browser := pair.StartHelper(t, 1, "browse", envHost+"="+want.Host)
	if ev := browser.Next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("browser: first event %+v, want ready", ev)
	}

	began := time.Now()
	announcer := pair.StartHelper(t, 0, "announce",
		envInstance+"="+want.Instance, envHost+"="+want.Host, envDomain+"="+want.Domain,
		envPort+"="+strconv.Itoa(want.Port), envTLSPort+"="+strconv.Itoa(want.TLSPort))

	found := map[string]netns.Event{}
	var host *netns.Event
	deadline := began.Add(5 * time.Second)
	for len(found) < 2 || host == nil {
		ev := browser.Next(t, deadline)
		switch ev.Event {
		case "found":
			if _, ok := found[ev.Service]; !ok {
				t.Logf("%s found after %v: %+v", ev.Service, time.Since(began), ev)
			}
			found[ev.Service] = ev
		case "host":
			t.Logf("%s resolved after %v: %+v", want.Host, time.Since(began), ev)
			host = &ev
		default:
			t.Fatalf("browser: unexpected %+v", ev)
		}
	}
	for svc, port := range map[string]int{ServiceC2S: want.Port, ServiceC2STLS: want.TLSPort} {
		ev, ok := found[svc]
		switch {
		case !ok:
			t.Errorf("%s not found", svc)
		case netns.Unescape(ev.Instance) != want.Instance || ev.Port != port || ev.Host != "family.local.":
			t.Errorf("%s: instance %q, port %d, host %q; want %q, %d, family.local.", svc, netns.Unescape(ev.Instance), ev.Port, ev.Host, want.Instance, port)
		case !slices.Equal(ev.TXT, wantTXT):
			t.Errorf("%s: TXT %q, want %q", svc, ev.TXT, wantTXT)
		case !slices.Equal(ev.IPv4, []string{wantAddr}):
			t.Errorf("%s: IPv4 %q, want [%s]", svc, ev.IPv4, wantAddr)
		}
	}
	if host.Err != "" || !slices.Equal(host.IPv4, []string{wantAddr}) {
		t.Errorf("%s.local: %+v, want IPv4 [%s]", want.Host, *host, wantAddr)
	}

	// A device that starts browsing later is answered at once.
	late := pair.StartHelper(t, 1, "browse", envHost+"="+want.Host)
	if ev := late.Next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("late browser: first event %+v, want ready", ev)
	}
	ev := late.Next(t, time.Now().Add(time.Second))
	if ev.Event != "found" {
		t.Fatalf("late browser: %+v, want found", ev)
	}
	t.Logf("late browser found %s %v after its query", ev.Service, ev.After)

	// SIGTERM: the announcer says goodbye for both services and exits 0.
	stopped := time.Now()
	if code := announcer.Stop(t); code != 0 {
		t.Errorf("announcer: exit code %d after SIGTERM\n%s", code, announcer.Stderr())
	}
	t.Logf("announcer exited %v after SIGTERM; its log:\n%s", time.Since(stopped), announcer.Stderr())
	for _, line := range []string{"announced on the LAN", "LAN announcement withdrawn"} {
		if !strings.Contains(announcer.Stderr(), line) {
			t.Errorf("announcer did not log %q:\n%s", line, announcer.Stderr())
		}
	}
	goodbyes := map[string]time.Time{}
	for len(goodbyes) < 2 {
		ev := browser.Next(t, stopped.Add(3*time.Second))
		if ev.Event != "goodbye" {
			continue // a late answer to a periodic query
		}
		if netns.Unescape(ev.Instance) != want.Instance {
			t.Errorf("goodbye for %q, want %q", ev.Instance, want.Instance)
		}
		goodbyes[ev.Service] = ev.At
	}
	// Measured by the browser: the announcer may take longer to exit
	// (the race detector waits a second at exit).
	t.Logf("goodbyes seen %v and %v after SIGTERM", goodbyes[ServiceC2S].Sub(stopped), goodbyes[ServiceC2STLS].Sub(stopped))
}

// TestHelperRefusesOpenNetwork runs the announcer where one more interface
// than its veth is up: it must refuse before sending anything.
func TestHelperRefusesOpenNetwork(t *testing.T) {
	pair := netns.NewPair(t, "x", "y")
	ns := pair.NS[0]
	extra := pair.Iface[0] + "e"
	netns.MustRun(t, "ip", "-n", ns, "link", "add", extra, "type", "veth", "peer", "name", extra+"p")
	netns.MustRun(t, "ip", "-n", ns, "link", "set", extra, "up")
	p := pair.StartHelper(t, 0, "announce", envInstance+"=x", envHost+"=x", envPort+"=1")
	refusal := "refusing to send mDNS: interface " + extra + " is up"
	if code := p.Wait(t, 5*time.Second); code == 0 || !strings.Contains(p.Stdout(), refusal) {
		t.Errorf("announcer beside an extra interface: exit code %d, want a refusal\nstdout: %s\nstderr: %s", code, p.Stdout(), p.Stderr())
	}
}

// TestHelperProcess is the body of a helper started in a namespace; it
// does nothing in a normal test run.
func TestHelperProcess(t *testing.T) {
	role, ifi, err := netns.Helper()
	switch {
	case role == "":
		return
	case err != nil:
		t.Fatal(err)
	}
	switch role {
	case "announce":
		announce(t, ifi)
	case "presence":
		presenceHelper(t, ifi)
	case "flood":
		floodHelper(t, ifi)
	case "rogue":
		rogueHelper(t, ifi)
	case "llbrowse":
		browseHelper(t, ifi)
	case "browse":
		if err := netns.Browse(ifi, os.Getenv(envHost)+".local.", []string{ServiceC2S, ServiceC2STLS}, helperLife); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown role %q", role)
	}
}

func announce(t *testing.T, ifi net.Interface) {
	port, _ := strconv.Atoi(os.Getenv(envPort))
	tlsPort, _ := strconv.Atoi(os.Getenv(envTLSPort))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	err := Announce(ctx, Announcement{
		Instance: os.Getenv(envInstance),
		Host:     os.Getenv(envHost),
		Port:     port,
		TLSPort:  tlsPort,
		Domain:   os.Getenv(envDomain),
		Ifaces:   []net.Interface{ifi},
		Poll:     500 * time.Millisecond,
	}, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		t.Fatal(err)
	}
}
