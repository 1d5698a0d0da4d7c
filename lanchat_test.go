package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"hearth/internal/netns"
)

// TestLANChat: chat on the LAN without accounts (XEP-0174) end to end.
// hearth serves family.local in one network namespace, with alice (who
// opted in) logged in with slixmpp; the other namespace is a family
// device with avahi and libpurple's Bonjour protocol as bob@familydevice
// (server/internal/linklocal/testdata/bonjourpeer.c). avahi-browse there
// sees alice@family; bob's hello reaches slixmpp from
// bob%familydevice@lan.family.local and alice's reply reaches bob (a
// message to no one on the LAN bounces as recipient-unavailable, one to
// a peer announced where nothing listens as remote-server-not-found); her
// going away changes her TXT record as avahi sees it; linklocal.enabled
// off withdraws her and on brings her back, as hearth lan off and on do;
// logging out withdraws her;
// back online, a new address of the server is announced; stopping the
// server says goodbye.
func TestLANChat(t *testing.T) {
	for _, tool := range []string{"avahi-daemon", "avahi-browse", "dbus-daemon", "gcc", "pkg-config", "/usr/bin/python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			netns.Unavailable(t, fmt.Sprintf("needs %s (apt-get install avahi-daemon avahi-utils dbus gcc pkg-config libpurple-dev python3-slixmpp)", tool))
		}
	}
	if exec.Command("/usr/bin/python3", "-c", "import slixmpp").Run() != nil {
		netns.Unavailable(t, "needs python3-slixmpp for /usr/bin/python3")
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "purple").Output()
	if err != nil {
		netns.Unavailable(t, "needs libpurple-dev (pkg-config purple failed)")
	}
	dir := t.TempDir()
	peerBin := filepath.Join(dir, "bonjourpeer")
	gccArgs := append([]string{"-o", peerBin, "server/internal/linklocal/testdata/bonjourpeer.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", gccArgs...).CombinedOutput(); err != nil {
		t.Fatalf("building the libpurple peer: %v\n%s", err, out)
	}
	pair := netns.NewPair(t, "h", "b")
	dbusEnv := netns.StartAvahi(t, pair, 1, dir, "familydevice")

	data := t.TempDir()
	d := "--data=" + data
	e := env(t)
	check(t, e, "silver-kettle-pw\n", 0, "", "user", "add", "alice@family.local", d)
	check(t, e, "", 0, `^$`, "lan", "on", "alice", d)
	srv := pair.Start(t, 0, e, bin, "serve", "--headless", d, "--domain", "family.local",
		"--c2s", ":0", "--c2s-tls", "off", "--ca-page", "off", "--log-level", "debug")
	srv.WaitStderr(t, "hearth: serving", 10*time.Second)
	m := regexp.MustCompile(`c2s \S*:(\d+),`).FindStringSubmatch(srv.Stderr())
	if m == nil {
		t.Fatalf("no c2s port in:\n%s", srv.Stderr())
	}
	srv.WaitStderr(t, "chat on the LAN started", 10*time.Second)
	// The server's own announcement runs beside it, on the same host name.
	srv.WaitStderr(t, `msg="announced on the LAN"`, 10*time.Second)

	// A peer announced where nothing listens.
	ghost := pair.Start(t, 1, dbusEnv, "avahi-publish", "-s", "ghost@familydevice", "_presence._tcp", "5999", "txtvers=1", "status=avail")
	defer ghost.Stop(t)
	peerJID := "bob%familydevice@lan.family.local"
	user := pair.Start(t, 0, nil, "/usr/bin/python3", "server/xmpptest/interop/slix_lan.py", "--insecure", "--timeout", "40",
		"--ghost", "ghost%familydevice@lan.family.local", "127.0.0.1", m[1], "family.local", "alice", "silver-kettle-pw", peerJID)
	var purple *netns.Proc
	defer func() {
		if t.Failed() || testing.Verbose() {
			t.Logf("hearth:\n%s\nslixmpp:\n%s%s", srv.Stderr(), user.Stdout(), user.Stderr())
			if purple != nil {
				t.Logf("libpurple:\n%s", purple.Stderr())
			}
		}
	}()
	waitStdout(t, user, "READY", 10*time.Second)
	began := time.Now()
	txt := waitBrowse(t, pair, dbusEnv, "alice@family", true, 10*time.Second)
	t.Logf("avahi-browse on the device saw alice@family %v after she logged in: %s", time.Since(began), txt)
	for _, want := range []string{`"txtvers=1"`, `"status=avail"`, `"jid=alice@family.local"`, `"port.p2pj=`} {
		if !strings.Contains(txt, want) {
			t.Errorf("alice's TXT record lacks %s: %s", want, txt)
		}
	}

	purple = pair.Start(t, 1, dbusEnv, peerBin, filepath.Join(dir, "purple"), "bob@familydevice", "alice@family")
	purple.WaitStderr(t, "buddy signed on: alice@family", 15*time.Second)
	waitStdout(t, user, "PEER "+peerJID+" available", 10*time.Second)
	waitStdout(t, user, "GOT hello hearth", 10*time.Second)
	purple.WaitStderr(t, "received from alice@family: hello bob", 10*time.Second)
	waitStdout(t, user, "BOUNCE recipient-unavailable", 5*time.Second)
	waitStdout(t, user, "GHOST BOUNCE remote-server-not-found", 20*time.Second)

	began = time.Now()
	user.Signal(t, syscall.SIGUSR1)
	waitStdout(t, user, "AWAY", 5*time.Second)
	txt = waitBrowseTXT(t, pair, dbusEnv, "alice@family", []string{`"status=away"`, `"msg=out for lunch"`}, 10*time.Second)
	t.Logf("her TXT record changed %v after she went away: %s", time.Since(began), txt)

	began = time.Now()
	check(t, e, "", 0, `^$`, "config", "set", "linklocal.enabled", "false", d)
	waitBrowse(t, pair, dbusEnv, "alice@family", false, 10*time.Second)
	t.Logf("linklocal.enabled off: gone from avahi %v later", time.Since(began))
	srv.WaitStderr(t, "chat on the LAN stopped", 5*time.Second)
	check(t, e, "", 0, `(?m)^LAN chat: +off`, "lan", "status", d)

	check(t, e, "", 0, `^$`, "config", "set", "linklocal.enabled", "true", d)
	waitBrowseTXT(t, pair, dbusEnv, "alice@family", []string{`"status=away"`}, 10*time.Second)
	// The device shows again in the admin's view once the browser has
	// found it anew.
	waitCommand(t, e, regexp.MustCompile(`(?m)^bob@familydevice +bob%familydevice@lan\.family\.local +avail`), 10*time.Second, "lan", "status", d)
	check(t, e, "", 0, `(?m)^alice@family +alice +away +out for lunch`, "lan", "status", d)

	// Her own choice applies at once too.
	check(t, e, "", 0, `^$`, "lan", "off", "alice", d)
	waitBrowse(t, pair, dbusEnv, "alice@family", false, 10*time.Second)
	check(t, e, "", 0, `(?m)^LAN chat: +not running: no account takes part`, "lan", "status", d)
	check(t, e, "", 0, `^$`, "lan", "on", "alice", d)
	waitBrowse(t, pair, dbusEnv, "alice@family", true, 10*time.Second)

	began = time.Now()
	user.Signal(t, syscall.SIGUSR1)
	waitStdout(t, user, "LOGGED OUT", 5*time.Second)
	waitBrowse(t, pair, dbusEnv, "alice@family", false, 10*time.Second)
	t.Logf("logging out: gone from avahi %v later", time.Since(began))

	// Back online, then the server's address changes: the device resolves
	// the instance at the new one.
	user.Signal(t, syscall.SIGUSR1)
	waitStdout(t, user, "BACK", 10*time.Second)
	waitBrowse(t, pair, dbusEnv, "alice@family", true, 10*time.Second)
	moved := pair.Addr[0][:strings.LastIndexByte(pair.Addr[0], '.')] + ".77"
	netns.MustRun(t, "ip", "-n", pair.NS[0], "addr", "del", pair.Addr[0]+"/24", "dev", pair.Iface[0])
	netns.MustRun(t, "ip", "-n", pair.NS[0], "addr", "add", moved+"/24", "dev", pair.Iface[0])
	began = time.Now()
	waitBrowseAddr(t, pair, dbusEnv, "alice@family", moved, 15*time.Second)
	t.Logf("the server's address changed: the device resolves alice@family at %s %v later", moved, time.Since(began))

	// Stopping the server says goodbye.
	began = time.Now()
	if code := srv.Stop(t); code != 0 {
		t.Errorf("hearth exited %d after SIGTERM", code)
	}
	waitBrowse(t, pair, dbusEnv, "alice@family", false, 5*time.Second)
	t.Logf("the server stopped: gone from avahi %v later", time.Since(began))
	waitStdout(t, user, "SERVER GONE", 5*time.Second)
	if code := user.Wait(t, 5*time.Second); code != 0 {
		t.Errorf("slixmpp exited %d", code)
	}
}

// waitStdout waits until the process's standard output holds s.
func waitStdout(t *testing.T, p *netns.Proc, s string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(p.Stdout(), s) {
		select {
		case <-p.Done():
			if strings.Contains(p.Stdout(), s) {
				return
			}
			t.Fatalf("ended before printing %q:\n%s%s", s, p.Stdout(), p.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("did not print %q within %v:\n%s%s", s, d, p.Stdout(), p.Stderr())
		}
	}
}

// waitCommand runs hearth until its standard output matches re.
func waitCommand(t *testing.T, environ []string, re *regexp.Regexp, d time.Duration, args ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		r := hearth(t, environ, "", args...)
		if re.MatchString(r.stdout) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hearth %s: %q does not match %q within %v\n%s", strings.Join(args, " "), r.stdout, re, d, r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// browse is what avahi-browse -r -t -p lists for _presence._tcp on the
// device now: the resolved lines ("=;iface;proto;name;type;domain;host;
// address;port;txt") by instance name.
func browse(t *testing.T, pair *netns.Pair, dbusEnv []string) map[string]string {
	t.Helper()
	// avahi-browse -t waits for every resolution it started: one that
	// never answers (a peer gone mid-way) held a CI run for 20 minutes.
	// Past browseTimeout it is stopped and what it printed counts; the
	// callers' deadlines still decide.
	ctx, cancel := context.WithTimeout(context.Background(), browseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", pair.NS[1], "avahi-browse", "-r", "-t", "-p", "_presence._tcp")
	cmd.Env = append(os.Environ(), dbusEnv...)
	out, err := cmd.Output()
	if err != nil && ctx.Err() == nil {
		t.Fatalf("avahi-browse: %v\n%s", err, out)
	}
	found := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.SplitN(line, ";", 10)
		if len(f) == 10 && f[0] == "=" {
			found[avahiUnescape(f[3])] += "address=" + f[7] + " " + f[9] + " "
		}
	}
	return found
}

// browseTimeout bounds one avahi-browse.
const browseTimeout = 5 * time.Second

// waitBrowseAddr waits until avahi-browse resolves name at addr.
func waitBrowseAddr(t *testing.T, pair *netns.Pair, dbusEnv []string, name, addr string, d time.Duration) {
	t.Helper()
	waitBrowseTXT(t, pair, dbusEnv, name, []string{"address=" + addr + " "}, d)
}

// avahiUnescape undoes avahi-browse -p's \DDD escapes.
func avahiUnescape(s string) string {
	return regexp.MustCompile(`\\(\d{3})`).ReplaceAllStringFunc(s, func(m string) string {
		var n int
		fmt.Sscanf(m[1:], "%d", &n)
		return string(rune(n))
	})
}

// waitBrowse waits until avahi-browse on the device lists name (present)
// or no longer does, and returns its TXT record.
func waitBrowse(t *testing.T, pair *netns.Pair, dbusEnv []string, name string, present bool, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		txt, ok := browse(t, pair, dbusEnv)[name]
		if ok == present {
			return txt
		}
		if time.Now().After(deadline) {
			t.Fatalf("avahi-browse: %s present=%v after %v, want %v", name, ok, d, present)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitBrowseTXT waits until name's TXT record as avahi-browse lists it
// holds every one of want.
func waitBrowseTXT(t *testing.T, pair *netns.Pair, dbusEnv []string, name string, want []string, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		txt := browse(t, pair, dbusEnv)[name]
		all := true
		for _, w := range want {
			all = all && strings.Contains(txt, w)
		}
		if all {
			return txt
		}
		if time.Now().After(deadline) {
			t.Fatalf("avahi-browse: %s's TXT record %q lacks one of %q after %v", name, txt, want, d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
