package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"hearth/internal/netns"
	"hearth/storage"
)

// bin is the hearth binary TestMain builds: headless, without cgo.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv(netns.EnvRole) != "" {
		// A helper in a network namespace (TestHelperProcess): no build.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "hearth-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "hearth")
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	build := exec.Command(goCmd, "build", "-tags", "nogui", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hearth:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is the environment of a hearth run: a home of its own, no display,
// none of the caller's HEARTH_ variables.
func env(t *testing.T, extra ...string) []string {
	t.Helper()
	// The CA page, HTTPS and STUN/TURN on loopback: a test's server never opens
	// a port on every interface unless it asks.
	return append([]string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH"), "HEARTH_CA_PAGE=127.0.0.1:0", "HEARTH_HTTP=127.0.0.1:0", "HEARTH_TURN=127.0.0.1:0", "HEARTH_COMPONENT=127.0.0.1:0"}, extra...)
}

type result struct {
	stdout, stderr string
	code           int
}

// hearth runs the binary to completion.
func hearth(t *testing.T, environ []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("hearth %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// check runs hearth and fails unless it exits with code and its stdout
// matches the regular expression want (empty: anything).
func check(t *testing.T, environ []string, stdin string, code int, want string, args ...string) result {
	t.Helper()
	r := hearth(t, environ, stdin, args...)
	if r.code != code {
		t.Errorf("hearth %s: exit code %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if want != "" && !regexp.MustCompile(want).MatchString(r.stdout) {
		t.Errorf("hearth %s: stdout %q does not match %q\nstderr: %s", strings.Join(args, " "), r.stdout, want, r.stderr)
	}
	return r
}

func TestOffline(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	steps := []struct {
		args  []string
		stdin string
		code  int
		want  string // regexp on stdout
	}{
		{args: []string{"user", "add", "alice@test.home", "--password", "correct horse", d}},
		{args: []string{"user", "list", d}, want: `(?m)^alice@test\.home +enabled +0 `},
		// The first JID named the domain, and it was stored.
		{args: []string{"config", "get", "domain", d}, want: `^test\.home\n$`},
		{args: []string{"user", "add", "bob", d}, stdin: "battery staple\n"},
		{args: []string{d, "user", "list"}, code: 2}, // flags go after the command
		{args: []string{"user", "add", "carol", d}, want: `^password for carol: [a-zA-Z2-9]{20}\n$`},
		{args: []string{"user", "add", "dave@other.example", "--password", "correct horse", d}, code: 1},
		{args: []string{"user", "add", "dave", "--password", "short", d}, code: 1},
		{args: []string{"user", "add", "alice", "--password", "correct horse", d}, code: 1},
		{args: []string{"user", "passwd", "bob", d}, stdin: "new battery\n"},
		{args: []string{"user", "passwd", "nobody", "--password", "correct horse", d}, code: 1},
		{args: []string{"user", "disable", "bob", d}},
		{args: []string{"user", "list", d}, want: `(?m)^bob@test\.home +disabled `},
		{args: []string{"user", "enable", "bob@test.home", d}},
		{args: []string{"user", "del", "carol", d}},
		{args: []string{"user", "del", "carol", d}, code: 1},
		{args: []string{"roster", "add", "alice", "bob@test.home", "--name", "Bob", "--group", "Family", "--group", "Kids", d}},
		{args: []string{"roster", "list", "alice", d}, want: `(?m)^bob@test\.home +Bob +none +Family, Kids$`},
		{args: []string{"roster", "del", "alice", "bob@test.home", d}},
		{args: []string{"roster", "del", "alice", "bob@test.home", d}, code: 1},
		{args: []string{"config", "set", "mdns.enabled", "off", d}, want: `^$`},
		{args: []string{"config", "set", "limits.stanza_bytes", "65536", d}, want: `^$`}, // live
		{args: []string{"config", "set", "tls.mode", "local", d}, want: `^restart needed\n$`},
		{args: []string{"config", "set", "limits.stanza_bytes", "lots", d}, code: 1},
		{args: []string{"config", "set", "no.such.key", "1", d}, code: 1},
		{args: []string{"config", "get", "no.such.key", d}, code: 1},
		{args: []string{"config", "list", d}, want: `(?m)^mdns\.enabled +false +true `},
		{args: []string{"status", d}, want: `(?s)not running.*domain: +test\.home.*users: +2`},
		{args: []string{"status", "--check", d}, want: `(?m)^database: +ok$`},
		{args: []string{"version"}, want: `^hearth \d+\.\d+\.\d+(-dev)?( \(commit [0-9a-f]{7}( with local changes)?, \d{4}-\d\d-\d\d\))?\n$`},
		{args: []string{"help"}, want: `hearth user add`},
		{args: []string{"--help"}, want: `hearth user add`},
		// Usage errors.
		{args: []string{"bogus"}, code: 2},
		{args: []string{"user", d}, code: 2},
		{args: []string{"user", "add", d}, code: 2},
		{args: []string{"user", "add", "a", "b", d}, code: 2},
		{args: []string{"user", "frobnicate", "a", d}, code: 2},
		{args: []string{"user", "passwd", "bob", d}, code: 2}, // no password anywhere
		{args: []string{"user", "list", "--nope", d}, code: 2},
		{args: []string{"roster", "add", "alice", d}, code: 2},
		{args: []string{"config", "set", "mdns.enabled", d}, code: 2},
		{args: []string{"serve", "--log-level", "loud", d}, code: 2},
		{args: []string{"serve", "extra", d}, code: 2},
	}
	for _, s := range steps {
		check(t, e, s.stdin, s.code, s.want, s.args...)
	}
}

func TestEnvironment(t *testing.T) {
	xdg, home, data := t.TempDir(), t.TempDir(), t.TempDir()
	add := []string{"user", "add", "alice@test.home", "--password", "correct horse"}

	check(t, []string{"XDG_DATA_HOME=" + xdg, "HOME=" + home}, "", 0, "", add...)
	check(t, []string{"HOME=" + home}, "", 0, "", add...)
	check(t, []string{"HOME=" + home, "HEARTH_DATA=" + data}, "", 0, "", add...)
	for _, db := range []string{
		filepath.Join(xdg, "hearth", "hearth.db"),
		filepath.Join(home, ".local", "share", "hearth", "hearth.db"),
		filepath.Join(data, "hearth.db"),
	} {
		if _, err := os.Stat(db); err != nil {
			t.Error(err)
		}
	}
	fi, err := os.Stat(filepath.Join(xdg, "hearth"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	// A flag beats the environment.
	other := t.TempDir()
	check(t, []string{"HOME=" + home, "HEARTH_DATA=" + other}, "", 0, `alice@test\.home`, "user", "list", "--data", data)
	check(t, []string{"HOME=" + home, "HEARTH_DATA=" + other}, "", 0, `^JID.*\n$`, "user", "list")
	// A bad value in the environment is a usage error.
	check(t, []string{"HOME=" + home, "HEARTH_HEADLESS=sometimes"}, "", 2, "", "serve", "--data", data)
}

// serveProc is a running hearth serve.
type serveProc struct {
	cmd         *exec.Cmd
	c2s, c2sTLS string
	caPage      string        // the CA page's URL, or off
	ready       chan []string // the ready line's submatches, once
	done        chan error    // the process's exit
	mu          sync.Mutex
	stderr      bytes.Buffer
}

func (s *serveProc) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

var readyLine = regexp.MustCompile(`^hearth: serving (\S+) \(c2s (\S+), c2s-tls (\S+), federation (\S+), CA page (\S+)(?:, https (\S+))?\)$`)

// launch starts cmd, a hearth serve, without waiting for it; the process
// is killed when the test ends if it still runs.
func launch(t *testing.T, cmd *exec.Cmd) *serveProc {
	t.Helper()
	s := &serveProc{cmd: cmd, ready: make(chan []string, 1), done: make(chan error, 1)}
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			s.mu.Lock()
			s.stderr.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				s.ready <- m
			}
		}
		io.Copy(io.Discard, pipe)
		s.done <- s.cmd.Wait()
	}()
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// start starts hearth serve and waits for its ready line.
func start(t *testing.T, environ []string, args ...string) (*serveProc, time.Duration) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	cmd.Env = environ
	began := time.Now()
	s := launch(t, cmd)
	select {
	case m := <-s.ready:
		s.c2s, s.c2sTLS, s.caPage = m[2], m[3], m[5]
		return s, time.Since(began)
	case err := <-s.done:
		t.Fatalf("hearth serve exited before it was ready: %v\n%s", err, s.log())
	case <-time.After(10 * time.Second):
		t.Fatalf("hearth serve not ready after 10s\n%s", s.log())
	}
	return nil, 0
}

// stop sends SIGTERM and returns the exit code.
func (s *serveProc) stop(t *testing.T) int {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		// Its goroutines tell where it is stuck.
		s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("hearth serve still running 10s after SIGTERM\n%s", s.log())
	}
	return -1
}

func TestServe(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)

	s, took := start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	// How long the start took is logged, not asserted: speed is for
	// benchmarks (a loaded machine takes longer).
	t.Logf("ready after %v: c2s %s, c2s-tls %s", took, s.c2s, s.c2sTLS)
	fi, err := os.Stat(filepath.Join(data, "admin.sock"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin socket: %v, %v; want mode 0600", fi.Mode(), err)
	}

	// A second server on the same data directory is refused.
	r := hearth(t, e, "", "serve", "--headless", "--no-mdns", d, "--c2s", "off", "--c2s-tls", "off")
	if r.code != 1 || !strings.Contains(r.stderr, "is using the data directory "+data) {
		t.Errorf("second server: exit code %d, stderr %q", r.code, r.stderr)
	}

	// Admin commands go through the socket to the running server.
	check(t, e, "", 0, `(?s)status: +running.*domain: +test\.home.*listener: +c2s-tls `+regexp.QuoteMeta(s.c2sTLS)+`.*failed logins: +0 since the start`, "status", d)
	check(t, e, "", 0, `(?m)^database: +ok$`, "status", "--check", d)
	// Listening on loopback only, nothing is for the LAN.
	check(t, e, "", 0, `(?m)^LAN addresses: +none reachable from the LAN\n^mDNS: +not announced: --no-mdns was given for this run$`, "status", d)
	check(t, e, "", 0, "", "user", "add", "bob", "--password", "battery staple", d)
	check(t, e, "", 0, `(?m)^bob@test\.home +enabled +0 `, "user", "list", d)

	// bob signs in: the running server knows him, and only its live API
	// lists his session and closes it when he is disabled.
	conn := login(t, s.c2sTLS, "bob", "battery staple")
	check(t, e, "", 0, `(?m)^ +bob@test\.home/cli `, "status", d)
	check(t, e, "", 0, `(?m)^bob@test\.home +enabled +1 `, "user", "list", d)
	check(t, e, "", 0, "", "user", "disable", "bob", d)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("bob's session still open after disabling him; got %q", rest)
	}
	t.Logf("bob's stream ended: %q", rest)
	conn.Close()

	if code := s.stop(t); code != 0 {
		t.Errorf("exit code after SIGTERM: %d\n%s", code, s.log())
	}
	if _, err := os.Stat(filepath.Join(data, "admin.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("admin socket after exit: %v", err)
	}
	// Without the server, the commands use the database again.
	check(t, e, "", 0, `(?m)^bob@test\.home +disabled +0 `, "user", "list", d)
}

// TestOneServerPerDataDir: two servers started on one data directory at
// the same moment never both run. One serves; the other says that the
// data directory is in use and exits before it takes a port. Every other
// round starts on a new data directory, where the database is made too.
func TestOneServerPerDataDir(t *testing.T) {
	const rounds = 50
	e := env(t)
	shared := t.TempDir()
	began := time.Now()
	for i := range rounds {
		data := shared
		if i%2 == 0 {
			data = t.TempDir()
		}
		var procs [2]*serveProc
		var gates [2]io.WriteCloser
		for j := range procs {
			// Both wait for a line on standard input, then become hearth.
			cmd := exec.Command("sh", "-c", `read go && exec "$0" "$@"`, bin, "serve", "--headless", "--no-mdns",
				"--data", data, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
			cmd.Env = e
			var err error
			if gates[j], err = cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			procs[j] = launch(t, cmd)
		}
		for _, g := range gates {
			io.WriteString(g, "go\n")
			g.Close()
		}
		var served []*serveProc
		for _, p := range procs {
			select {
			case <-p.ready:
				served = append(served, p)
			case err := <-p.done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(p.log(), "is using the data directory "+data) {
					t.Errorf("round %d: the server that did not run exited with %v:\n%s", i, err, p.log())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: neither ready nor gone after 10s:\n%s", i, p.log())
			}
		}
		if len(served) != 1 {
			t.Fatalf("round %d: %d servers ran on one data directory", i, len(served))
		}
		if code := served[0].stop(t); code != 0 {
			t.Errorf("round %d: exit code %d after SIGTERM:\n%s", i, code, served[0].log())
		}
	}
	t.Logf("%d rounds, one server each, in %v", rounds, time.Since(began).Round(time.Millisecond))
}

// TestDataDirInUse: while another process holds the data directory (a
// server starting, before its admin socket answers, or another command),
// admin commands and servers say so in plain words, and work once it is
// free.
func TestDataDirInUse(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	db, err := storage.Open(t.Context(), filepath.Join(data, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	holder := fmt.Sprintf("process %d", os.Getpid())
	r := check(t, e, "", 1, "", "user", "add", "alice@test.home", "--password", "correct horse", d)
	for _, s := range []string{"another Hearth", holder, "is using the data directory " + data, "try again in a moment"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("user add: stderr %q without %q", r.stderr, s)
		}
	}
	r = check(t, e, "", 1, "", "serve", "--headless", "--no-mdns", d, "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	if !strings.Contains(r.stderr, holder) || !strings.Contains(r.stderr, "Only one Hearth may use a data directory at a time") {
		t.Errorf("serve: stderr %q", r.stderr)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)
}

// TestDamagedDatabase: Hearth refuses to start on a database that is empty
// or cut short, rather than begin again with no accounts; it says how to
// restore it and leaves the file as it is.
func TestDamagedDatabase(t *testing.T) {
	e := env(t)
	good := t.TempDir()
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", "--data", good)
	whole, err := os.ReadFile(filepath.Join(good, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", []byte{}, "is empty (0 bytes)"},
		{"truncated", whole[:len(whole)/2], fmt.Sprintf("is truncated: it has %d of its %d bytes", len(whole)/2, len(whole))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			path := filepath.Join(data, "hearth.db")
			if err := os.WriteFile(path, tt.file, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{
				{"serve", "--headless", "--no-mdns", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0", "--data", data},
				{"user", "list", "--data", data},
			} {
				r := check(t, e, "", 1, "", args...)
				for _, s := range []string{tt.want, "Hearth will not start on it", "put your backup in place of " + path, "move " + path + " aside"} {
					if !strings.Contains(r.stderr, s) {
						t.Errorf("hearth %s: stderr %q without %q", args[0], r.stderr, s)
					}
				}
				if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, tt.file) {
					t.Errorf("after hearth %s: the database has %d bytes, was %d (%v)", args[0], len(got), len(tt.file), err)
				}
			}
		})
	}
}

// TestStatusCheck: hearth status --check finds a damaged page that the
// database opens with, says so and what to do, and exits 1.
func TestStatusCheck(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)
	path := filepath.Join(data, "hearth.db")
	db, err := storage.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 { // the last pages are alice's messages
		if _, err := db.StoreOffline(t.Context(), "alice", "bob@test.home", make([]byte, 1000), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)-4096:], bytes.Repeat([]byte{0xff}, 4096))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r := check(t, e, "", 1, `(?m)^database: +damaged: the check found \d+ problems?$`, "status", "--check", d)
	if !strings.Contains(r.stderr, "put your backup in place of "+path) {
		t.Errorf("stderr %q does not say what to do", r.stderr)
	}
	t.Logf("stdout:\n%s", r.stdout)
}

// TestDebug: against a running server, hearth debug writes a heap profile
// in pprof's format and prints the goroutine dump; with no server, it says
// that it needs one.
func TestDebug(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	r := check(t, e, "", 1, `^$`, "debug", "goroutines", d)
	if want := "no Hearth server is running on " + data + "; debug views need a running server"; !strings.Contains(r.stderr, want) {
		t.Errorf("no server: stderr %q, want %q", r.stderr, want)
	}
	for _, args := range [][]string{
		{"debug"},
		{"debug", "pprof"},
		{"debug", "pprof", "bogus"},
		{"debug", "pprof", "heap", "--seconds", "5"},
		{"debug", "pprof", "cpu", "--seconds", "61"},
		{"debug", "goroutines", "extra"},
		{"debug", "stacks"},
	} {
		check(t, e, "", 2, "", append(args, d)...)
	}

	s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	heap := filepath.Join(t.TempDir(), "heap.pb.gz")
	check(t, e, "", 0, `^$`, "debug", "pprof", "heap", "-o", heap, d)
	b, err := os.ReadFile(heap)
	if err != nil || !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Errorf("heap profile: %d bytes starting %q, %v; want gzip's magic", len(b), b[:min(len(b), 8)], err)
	}
	// Standard output, when it is not a terminal.
	if r := check(t, e, "", 0, "", "debug", "pprof", "goroutine", d); !strings.HasPrefix(r.stdout, "\x1f\x8b") {
		t.Errorf("goroutine profile on standard output starts %q", r.stdout[:min(len(r.stdout), 8)])
	}
	check(t, e, "", 0, `goroutine \d+ \[`, "debug", "goroutines", d)
	if code := s.stop(t); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}

	// A terminal gets no binary; script(1) gives hearth one.
	if _, err := exec.LookPath("script"); err != nil {
		t.Log("no script(1): the terminal refusal is not tested")
		return
	}
	cmd := exec.Command("script", "-qec", bin+" debug pprof heap --data "+data, "/dev/null")
	cmd.Env = e
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "give -o FILE") {
		t.Errorf("profile to a terminal: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
	}
}

// login signs in over direct TLS with SASL PLAIN and binds the resource
// "cli"; it returns the open stream.
func login(t *testing.T, addr, user, password string) net.Conn {
	t.Helper()
	return loginTLS(t, addr, &tls.Config{ServerName: "test.home",
		InsecureSkipVerify: true, // the test checks the admin path, not the certificate
	}, user, password)
}

// loginTLS signs user in over direct TLS with conf, which names the domain.
func loginTLS(t *testing.T, addr string, conf *tls.Config, user, password string) net.Conn {
	t.Helper()
	conf = conf.Clone()
	conf.NextProtos = []string{"xmpp-client"}
	domain := conf.ServerName
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, conf)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var buf []byte
	// expect reads until want arrives, and fails if bad does first.
	expect := func(want, bad string) string {
		t.Helper()
		b := make([]byte, 4096)
		for {
			s := string(buf)
			if i := strings.Index(s, bad); bad != "" && i >= 0 {
				t.Fatalf("login: got %q", s)
			}
			if i := strings.Index(s, want); i >= 0 {
				buf = buf[i+len(want):]
				return s[:i+len(want)]
			}
			n, err := conn.Read(b)
			buf = append(buf, b[:n]...)
			if err != nil {
				t.Fatalf("login: waiting for %q: %v; got %q", want, err, buf)
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(conn, s); err != nil {
			t.Fatal(err)
		}
	}
	header := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='` + domain + `' version='1.0'>`
	send(header)
	expect("</stream:features>", "")
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + password))
	send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>` + creds + `</auth>`)
	expect("<success", "<failure")
	send(header)
	expect("</stream:features>", "")
	send(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>cli</resource></bind></iq>`)
	if got := expect("</iq>", "type='error'"); !strings.Contains(got, user+"@"+domain+"/cli") {
		t.Fatalf("bind: got %q", got)
	}
	conn.SetDeadline(time.Time{})
	return conn
}

// readUntil reads conn until want has arrived and returns what was read.
func readUntil(t *testing.T, conn net.Conn, want string) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	b := make([]byte, 4096)
	for !strings.Contains(string(got), want) {
		n, err := conn.Read(b)
		got = append(got, b[:n]...)
		if err != nil {
			t.Fatalf("waiting for %q: %v; got %q", want, err, got)
		}
	}
	return string(got)
}

// TestKill9KeepsOfflineMessages: a message for an offline account is in
// SQLite once the server has answered the sender's next request, so a
// kill -9 right after loses nothing.
func TestKill9KeepsOfflineMessages(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "correct horse", d)
	check(t, e, "", 0, "", "user", "add", "bob@test.home", "--password", "battery staple", d)
	args := []string{"--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0"}

	s, _ := start(t, e, args...)
	alice := login(t, s.c2sTLS, "alice", "correct horse")
	io.WriteString(alice, `<message to='bob@test.home' type='chat' id='m1'><body>survives kill -9</body></message>`+
		`<iq type='get' id='after'><ping xmlns='urn:xmpp:ping'/></iq>`)
	readUntil(t, alice, `id="after"`)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
	alice.Close()

	s2, _ := start(t, e, args...)
	bob := login(t, s2.c2sTLS, "bob", "battery staple")
	io.WriteString(bob, `<presence/>`)
	got := readUntil(t, bob, "survives kill -9")
	if !strings.Contains(got, "urn:xmpp:delay") {
		t.Errorf("offline message without delay stamp: %q", got)
	}
	bob.Close()
	if code := s2.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

// TestMDNSLive: `hearth config set mdns.enabled` on a running server
// withdraws the LAN announcement at once and brings it back, as a device
// on the LAN sees it. hearth runs in one network namespace, the device's
// browser in another, joined by a veth pair: never this machine's
// network.
func TestMDNSLive(t *testing.T) {
	pair := netns.NewPair(t, "h", "p")
	data := t.TempDir()
	d := "--data=" + data
	srv := pair.Start(t, 0, env(t), bin, "serve", "--headless", d, "--domain", "family.local",
		"--c2s", ":0", "--c2s-tls", ":0", "--ca-page", ":0", "--log-level", "debug")
	srv.WaitStderr(t, `msg="announced on the LAN"`, 10*time.Second)
	// hearth status (and the window) say so, with the address to type by
	// hand: the veth's, not loopback's.
	check(t, env(t), "", 0, `(?m)^LAN addresses: +\d+\.\d+\.\d+\.\d+\b.*\n^mDNS: +announced as family\.local$`, "status", d)
	trustFromPage(t, pair, srv.Stderr())
	services := []string{"_xmpp-client._tcp", "_xmpps-client._tcp"}

	// found waits until a new browser on the device finds both services.
	found := func() {
		t.Helper()
		browser := pair.StartHelper(t, 1, "browse")
		if ev := browser.Next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
			t.Fatalf("browser: first event %+v, want ready", ev)
		}
		seen := map[string]bool{}
		began := time.Now()
		for len(seen) < len(services) {
			ev := browser.Next(t, began.Add(5*time.Second))
			if ev.Event == "found" && netns.Unescape(ev.Instance) == "Hearth on family.local" {
				seen[ev.Service] = true
			}
		}
		t.Logf("a browser on the device found both services in %v", time.Since(began))
		browser.Stop(t)
	}
	found()

	browser := pair.StartHelper(t, 1, "browse")
	if ev := browser.Next(t, time.Now().Add(5*time.Second)); ev.Event != "ready" {
		t.Fatalf("browser: first event %+v, want ready", ev)
	}
	set := time.Now()
	check(t, env(t), "", 0, `^$`, "config", "set", "mdns.enabled", "false", d) // no restart needed
	goodbyes := map[string]bool{}
	for len(goodbyes) < len(services) {
		ev := browser.Next(t, set.Add(5*time.Second))
		if ev.Event == "goodbye" && netns.Unescape(ev.Instance) == "Hearth on family.local" {
			goodbyes[ev.Service] = true
		}
	}
	t.Logf("goodbyes for both services seen %v after hearth config set mdns.enabled false", time.Since(set))
	srv.WaitStderr(t, "LAN announcement withdrawn", 5*time.Second)
	browser.Stop(t)
	check(t, env(t), "", 0, `(?m)^mDNS: +not announced: switched off in the settings \(mdns\.enabled\)$`, "status", d)

	check(t, env(t), "", 0, `^$`, "config", "set", "mdns.enabled", "true", d)
	found()
	if !strings.Contains(srv.Stderr(), "not announced on the LAN: mdns.enabled is off") {
		t.Errorf("the log does not say why the announcement stopped:\n%s", srv.Stderr())
	}
	if code := srv.Stop(t); code != 0 {
		t.Errorf("hearth exited %d after SIGTERM:\n%s", code, srv.Stderr())
	}
}

// TestHelperProcess is the body of a helper started in a network
// namespace (see hearth/internal/netns); it does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	role, ifi, err := netns.Helper()
	switch {
	case role == "":
		return
	case err != nil:
		t.Fatal(err)
	case role == "trust":
		trustRole(t)
	case role != "browse":
		t.Fatalf("unknown role %q", role)
	default:
		if err := netns.Browse(ifi, "", []string{"_xmpp-client._tcp", "_xmpps-client._tcp"}, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDataDirPermissions: a data directory other users could tamper with
// is refused, with a message that says how to fix it.
func TestDataDirPermissions(t *testing.T) {
	e := env(t)
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	r := check(t, e, "", 1, "", "user", "list", "--data", open)
	if !strings.Contains(r.stderr, "can be written by other users") || !strings.Contains(r.stderr, "chmod 700 "+open) {
		t.Errorf("world-writable data directory: %q", r.stderr)
	}
	if os.Geteuid() == 0 {
		theirs := t.TempDir()
		if err := os.Chown(theirs, 4242, 4242); err != nil {
			t.Fatal(err)
		}
		r := check(t, e, "", 1, "", "user", "list", "--data", theirs)
		if !strings.Contains(r.stderr, "belongs to another user (uid 4242)") {
			t.Errorf("someone else's data directory: %q", r.stderr)
		}
	}
	// A new one is made for its owner alone.
	fresh := filepath.Join(t.TempDir(), "new")
	check(t, e, "", 0, "", "user", "list", "--data", fresh)
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new data directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
}

// TestPasswordPrompt: on a terminal, hearth asks for the password twice
// without echo instead of taking it from the command line. script(1)
// gives hearth a pseudo-terminal.
func TestPasswordPrompt(t *testing.T) {
	if _, err := exec.LookPath("script"); err != nil {
		netns.Unavailable(t, "needs script(1) from util-linux")
	}
	data := t.TempDir()
	run := func(stdin string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command("script", "-qec", bin+" "+strings.Join(args, " ")+" --data "+data, "/dev/null")
		cmd.Env = env(t)
		cmd.Stdin = strings.NewReader(stdin)
		out, _ := cmd.CombinedOutput()
		return string(out), cmd.ProcessState.ExitCode()
	}
	out, code := run("wonderful-tea-pot\nwonderful-tea-pot\n", "user", "add", "bob@x.home")
	if code != 0 || !strings.Contains(out, "New password for bob@x.home") || !strings.Contains(out, "Again:") {
		t.Fatalf("user add on a terminal: exit %d\n%s", code, out)
	}
	out, code = run("first-tea-pot\nother-tea-pot\n", "user", "passwd", "bob@x.home")
	if code != 1 || !strings.Contains(out, "the two passwords differ; nothing was changed") {
		t.Fatalf("mistyped password: exit %d\n%s", code, out)
	}
	db, err := storage.Open(context.Background(), filepath.Join(data, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u, err := db.User(context.Background(), "bob")
	if err != nil || !u.SHA256.Verify("wonderful-tea-pot", sha256.New) {
		t.Fatalf("bob's password is not the one typed at the prompt: %v", err)
	}
}

// TestStop: hearth stop stops a running server cleanly over its admin
// socket and returns once it has let go of the data directory; with no
// server running it says so and succeeds.
func TestStop(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	check(t, e, "", 0, `(?m)^stopped$`, "stop", d)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("hearth serve after hearth stop: %v\n%s", err, s.log())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("hearth serve still running 10s after hearth stop\n%s", s.log())
	}
	if !strings.Contains(s.log(), "asked over the admin socket (hearth stop)") {
		t.Errorf("the log does not say why it stopped:\n%s", s.log())
	}
	// The data directory is free at once: the database opens directly.
	check(t, e, "", 0, "", "user", "add", "alice@test.home", "--password", "silver-kettle-pw", d)
	check(t, e, "", 0, `(?m)^no Hearth server is running on `+regexp.QuoteMeta(data)+`$`, "stop", d)
}
