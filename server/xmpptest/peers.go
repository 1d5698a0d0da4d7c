package xmpptest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"embed"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"hearth/internal/testdns"
	"hearth/server/internal/stream"
)

// Federation peers: real Prosody 0.12 and ejabberd 23.01 (Debian's) on
// 127.0.0.1, each with its own throwaway configuration, resolving every
// name through the test's DNS server (internal/testdns). How each one is
// pointed at that server and told whom to trust is in
// interop/README.md ("Federation").

//go:embed interop/prosody.cfg.lua.tmpl interop/prosody-s2s.cfg.lua.tmpl
//go:embed interop/ejabberd.yml.tmpl interop/ejabberd-s2s.yml.tmpl interop/ejabberdctl.cfg.tmpl interop/inetrc.tmpl
var peerTemplates embed.FS

// Programs the peers need (Debian's packages prosody and ejabberd).
const (
	ProsodyPath     = "/usr/bin/prosody"
	ProsodyCtlPath  = "/usr/bin/prosodyctl"
	EjabberdCtlPath = "/usr/sbin/ejabberdctl"
)

// PeerConfig says how to run a federation peer.
type PeerConfig struct {
	Domain string
	// CertFile and KeyFile are the peer's certificate for Domain and its
	// key (PEM): from a test CA (NewCA, CA.Issue) or SelfSigned.
	CertFile, KeyFile string
	// TrustCAFiles are the CA certificates (PEM files) the peer trusts
	// when it checks other servers' certificates on s2s streams, such as
	// Hearth's home CA (Server.CertFile). None: the system's CAs, which
	// trust no test certificate.
	TrustCAFiles []string
	// DNS is the address (127.0.0.1:port) of the DNS server the peer asks
	// for every name it looks up: testdns.Server.Addr.
	DNS string
	// SecureAuth: other servers must present a certificate that verifies
	// (SASL EXTERNAL). False: dialback (XEP-0220) authenticates those
	// whose certificate does not.
	SecureAuth bool
	// Users are the accounts, local part to password, made before the
	// peer's Start returns.
	Users map[string]string
	// Modules are Prosody modules enabled besides the template's (vcard,
	// private for the XEP-0227 test).
	Modules []string
}

// Peer is a running federation peer. It is stopped when the test ends;
// if the test failed, the end of its log is in the test's output.
type Peer struct {
	Kind    string // "prosody" or "ejabberd"
	Domain  string
	C2SAddr string // client STARTTLS listener, 127.0.0.1:port
	S2SAddr string // federation listener, 127.0.0.1:port
	S2SPort uint16
	LogFile string // the server's log
	Dir     string // the instance's folder: configuration, data, logs

	certFile string
	addUser  func(local, password string) error
	extraLog []string // other output worth reading on failure (standard output, error log)
	// ctl runs ejabberdctl (ejabberd only).
	ctl func(args ...string) *exec.Cmd
}

// PublishS2S makes domain's federation service findable through d: an
// SRV record _xmpp-server._tcp.DOMAIN pointing at localhost on port.
//
// The target is localhost, not a name of the test's own, because of
// ejabberd: it finds the SRV record through d, but the target's addresses
// through the C library (net:getaddrinfo), which reads /etc/hosts and not
// d. Prosody (libunbound answers localhost itself) and Go's resolver
// (/etc/hosts) agree: 127.0.0.1, and ::1 where /etc/hosts says so, which
// nothing listens on, so a dialer moves on.
func PublishS2S(d *testdns.Server, domain string, port uint16) {
	d.SetSRV("xmpp-server", "tcp", domain, testdns.SRV{Target: "localhost", Port: port})
}

// Publish is PublishS2S for the peer.
func (p *Peer) Publish(d *testdns.Server) { PublishS2S(d, p.Domain, p.S2SPort) }

// AddUser creates an account on the running peer.
func (p *Peer) AddUser(t testing.TB, local, password string) {
	t.Helper()
	if err := p.addUser(local, password); err != nil {
		t.Fatalf("%s: add user %s: %v", p.Kind, local, err)
	}
}

// Endpoint is where the peer's clients connect (STARTTLS); the client
// trusts exactly the certificate the peer was given.
func (p *Peer) Endpoint() Endpoint {
	roots := x509.NewCertPool()
	if pem, err := os.ReadFile(p.certFile); err == nil {
		roots.AppendCertsFromPEM(pem)
	}
	return Endpoint{Addr: p.C2SAddr, Domain: p.Domain, TLS: &tls.Config{ServerName: p.Domain, RootCAs: roots}}
}

// Login logs a client in to an account on the peer (LoginTo).
func (p *Peer) Login(t testing.TB, local, password, resource string) *Client {
	t.Helper()
	return LoginTo(t, p.Endpoint(), local, password, resource)
}

// Ctl runs an ejabberdctl command on the running ejabberd peer (as the
// ejabberd user, in its folder) and returns its output.
func (p *Peer) Ctl(args ...string) (string, error) {
	if p.ctl == nil {
		return "", fmt.Errorf("%s has no ejabberdctl", p.Kind)
	}
	out, err := p.ctl(args...).CombinedOutput()
	return string(out), err
}

// Logs is the server's log, for failure messages and for checking what
// the peer did.
func (p *Peer) Logs() string {
	data, _ := os.ReadFile(p.LogFile)
	return string(data)
}

// LogSays waits up to d for the peer's log to contain s and reports
// whether it did: ejabberd writes its log a second or two late.
func (p *Peer) LogSays(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if strings.Contains(p.Logs(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logTail is the end of the peer's log and of its other output (where a
// failure to start shows), for a failed test.
func (p *Peer) logTail() string {
	const max = 16 << 10
	var b strings.Builder
	for _, f := range append([]string{p.LogFile}, p.extraLog...) {
		data, err := os.ReadFile(f)
		if err != nil || len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		if len(data) > max {
			data = append([]byte("...\n"), data[len(data)-max:]...)
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", f, data)
	}
	return b.String()
}

// need skips the test when a peer's program is missing, or fails it in
// CI (CI=true), where every peer must be installed.
func need(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("federation peer %s missing in CI: %v", path, err)
		}
		t.Skipf("federation peer %s not installed (make deps installs it)", path)
	}
}

// freePort is a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	// Below Linux's ephemeral range (32768 and up): a port the kernel
	// hands out for :0 may be taken by any outgoing connection between
	// this check and the peer's bind. One process never hands a port out
	// twice.
	for range 200 {
		port := 20000 + rand.IntN(12000)
		portsMu.Lock()
		taken := portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if taken {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatal("no free port for a peer between 20000 and 32000")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// peerPorts are the listeners of a peer.
type peerPorts struct {
	C2SPort, DirectTLSPort, S2SPort int
}

func newPeerPorts(t testing.TB) peerPorts {
	return peerPorts{freePort(t), freePort(t), freePort(t)}
}

// render fills the embedded template name with data.
func render(t testing.TB, name string, data any) string {
	t.Helper()
	tmpl, err := template.New(name).Option("missingkey=error").ParseFS(peerTemplates, "interop/"+name)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b.String()
}

func writeFile(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// trustBundle writes the CA files into one PEM file (both peers take a
// single file) and returns its path, or "" for none.
func trustBundle(t testing.TB, dir string, files []string) string {
	t.Helper()
	if len(files) == 0 {
		return ""
	}
	var b bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("trusted CA: %v", err)
		}
		b.Write(data)
		b.WriteByte('\n')
	}
	path := filepath.Join(dir, "trust.pem")
	writeFile(t, path, b.String(), 0o644)
	return path
}

func dnsPort(t testing.TB, addr string) int {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || host != "127.0.0.1" {
		t.Fatalf("PeerConfig.DNS %q: want 127.0.0.1:PORT (testdns.Server.Addr)", addr)
	}
	return n
}

// process is a peer's server process.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when it has exited
	err    error         // how it exited, once exited is closed
}

// startProcess starts cmd in a process group of its own, output to
// outFile.
func startProcess(t testing.TB, cmd *exec.Cmd, outFile string) *process {
	t.Helper()
	out, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.exited)
	}()
	return p
}

// stop sends SIGTERM to pid (the process itself if 0) and waits for the
// process to end; after grace, it kills the whole process group.
func (p *process) stop(pid int, grace time.Duration) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	if pid == 0 {
		pid = p.cmd.Process.Pid
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	return fmt.Errorf("did not stop within %s of SIGTERM; killed", grace)
}

// waitListening waits until every address accepts connections, polling
// with a short backoff: the peers give no other sign that they are
// ready. It fails if the process ends first or after timeout.
func waitListening(t testing.TB, p *Peer, proc *process, timeout time.Duration, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	wait := 5 * time.Millisecond
	for _, addr := range addrs {
		for {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-proc.exited:
				t.Fatalf("%s ended before it listened on %s: %v\n%s", p.Kind, addr, proc.err, p.logTail())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s is not listening on %s after %s: %v\n%s", p.Kind, addr, timeout, err, p.logTail())
			}
			time.Sleep(wait)
			wait = min(2*wait, 100*time.Millisecond)
		}
	}
}

// addUsers makes the accounts, a few at a time.
func addUsers(t testing.TB, p *Peer, users map[string]string) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, 4)
	for local, password := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := p.addUser(local, password); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("user %s: %w", local, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%s: %v\n%s", p.Kind, err, p.logTail())
	}
}

// StartProsody runs Prosody 0.12 (Debian's) for cfg.Domain until the test
// ends: c2s (STARTTLS required) and s2s on 127.0.0.1, DNS through
// cfg.DNS, s2s certificates checked against cfg.TrustCAFiles, dialback
// allowed unless cfg.SecureAuth. The log is at debug level. Outside CI it
// skips the test if Prosody is not installed.
func StartProsody(t testing.TB, cfg PeerConfig) *Peer {
	t.Helper()
	need(t, ProsodyPath)
	need(t, ProsodyCtlPath)
	dir := t.TempDir()
	ports := newPeerPorts(t)
	main := filepath.Join(dir, "prosody.cfg.lua")
	s2s := filepath.Join(dir, "s2s.cfg.lua")
	data := map[string]any{
		"Domain": cfg.Domain, "Interface": "127.0.0.1", "DataDir": dir,
		"C2SPort": ports.C2SPort, "DirectTLSPort": ports.DirectTLSPort, "S2SPort": ports.S2SPort,
		"CertFile": cfg.CertFile, "KeyFile": cfg.KeyFile,
		"CAFile": trustBundle(t, dir, cfg.TrustCAFiles), "DNSPort": dnsPort(t, cfg.DNS), "SecureAuth": cfg.SecureAuth,
	}
	host := ""
	if len(cfg.Modules) > 0 {
		// In the VirtualHost section: added to the global list.
		host = "\tmodules_enabled = { \"" + strings.Join(cfg.Modules, "\", \"") + "\" }\n"
	}
	writeFile(t, main, render(t, "prosody.cfg.lua.tmpl", data)+host+
		"\n-- Federation (server/xmpptest/peers.go): its own file, to be back in the global section.\n"+
		fmt.Sprintf("Include %q\n", s2s), 0o644)
	writeFile(t, s2s, render(t, "prosody-s2s.cfg.lua.tmpl", data), 0o644)

	p := &Peer{
		Kind: "prosody", Domain: cfg.Domain, Dir: dir, certFile: cfg.CertFile,
		C2SAddr: fmt.Sprintf("127.0.0.1:%d", ports.C2SPort),
		S2SAddr: fmt.Sprintf("127.0.0.1:%d", ports.S2SPort), S2SPort: uint16(ports.S2SPort),
		LogFile:  filepath.Join(dir, "prosody.log"),
		extraLog: []string{filepath.Join(dir, "stdout.log")},
	}
	p.addUser = func(local, password string) error {
		// prosodyctl writes the account's file; a running Prosody reads
		// it at login.
		out, err := exec.Command(ProsodyCtlPath, "--config", main, "register", local, cfg.Domain, password).CombinedOutput()
		if err != nil {
			return fmt.Errorf("prosodyctl register: %v: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}
	addUsers(t, p, cfg.Users)

	proc := startProcess(t, exec.Command(ProsodyPath, "-F", "--config", main), filepath.Join(dir, "stdout.log"))
	t.Cleanup(func() {
		if err := proc.stop(0, 5*time.Second); err != nil {
			// Prosody 0.12.3 can hang in its own shutdown: a client's
			// stanza arriving after SIGTERM unbound it makes mod_c2s's
			// ondisconnect fail (sessionmanager.lua:114), and "Waiting
			// for sessions to close" never ends. The process is killed;
			// that is Prosody's problem, not the test's.
			t.Logf("prosody %s: %v", cfg.Domain, err)
		}
		if t.Failed() {
			t.Logf("prosody %s, end of the log:\n%s", cfg.Domain, p.logTail())
		}
	})
	waitListening(t, p, proc, 10*time.Second, p.C2SAddr, p.S2SAddr)
	return p
}

// StartEjabberd runs ejabberd 23.01 (Debian's) for cfg.Domain until the
// test ends, as StartProsody does Prosody; the log is at info level,
// which names each s2s stream's authentication. Accounts are made with
// in-band registration (XEP-0077), which the peer allows on loopback.
// ejabberd runs as the ejabberd user (ejabberdctl insists), so the test
// must run as root; outside CI it skips the test if it does not or
// ejabberd is not installed. It listens about 1.5 s after the start.
func StartEjabberd(t testing.TB, cfg PeerConfig) *Peer {
	t.Helper()
	need(t, EjabberdCtlPath)
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("ejabberd peers need root: ejabberdctl runs only as root or as the ejabberd user")
		}
		t.Skip("ejabberd peers need root: ejabberdctl runs only as root or as the ejabberd user")
	}
	eu, err := user.Lookup("ejabberd")
	if err != nil {
		t.Fatalf("ejabberd is installed but its user is missing: %v", err)
	}
	uid, _ := strconv.Atoi(eu.Uid)
	gid, _ := strconv.Atoi(eu.Gid)

	// Not t.TempDir: its parent is root's alone, and the ejabberd user
	// must reach this folder.
	dir, err := os.MkdirTemp("", "hearth-ejabberd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "conf")
	for _, d := range []string{conf, filepath.Join(dir, "spool"), filepath.Join(dir, "log")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Its own copies of the files it reads.
	for _, f := range [][2]string{{cfg.CertFile, "cert.pem"}, {cfg.KeyFile, "key.pem"}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f[1]), string(data), 0o600)
	}
	ports := newPeerPorts(t)
	distPort := freePort(t)
	node := fmt.Sprintf("hearth-peer-%d@localhost", distPort)
	data := map[string]any{
		"Domain": cfg.Domain, "Interface": "127.0.0.1",
		"C2SPort": ports.C2SPort, "DirectTLSPort": ports.DirectTLSPort, "S2SPort": ports.S2SPort,
		"CertFile": filepath.Join(dir, "cert.pem"), "KeyFile": filepath.Join(dir, "key.pem"),
		"CAFile": trustBundle(t, dir, cfg.TrustCAFiles), "Dialback": !cfg.SecureAuth, "DNSPort": dnsPort(t, cfg.DNS),
		"Node": node, "DistPort": distPort, "SpoolDir": filepath.Join(dir, "spool"), "LogDir": filepath.Join(dir, "log"),
	}
	writeFile(t, filepath.Join(conf, "ejabberd.yml"), render(t, "ejabberd.yml.tmpl", data)+
		"\n# Federation (server/xmpptest/peers.go)\n"+render(t, "ejabberd-s2s.yml.tmpl", data), 0o644)
	writeFile(t, filepath.Join(conf, "ejabberdctl.cfg"), render(t, "ejabberdctl.cfg.tmpl", data), 0o644)
	writeFile(t, filepath.Join(conf, "inetrc"), render(t, "inetrc.tmpl", data), 0o644)
	if err := chownAll(dir, uid, gid); err != nil {
		t.Fatal(err)
	}

	// ejabberdctl run by root switches to the ejabberd user with su, which
	// starts the Erlang VM in a session of its own; started as the
	// ejabberd user directly, the VM stays in this process group. HOME
	// holds the Erlang cookie that the node and the admin commands share.
	ctl := func(args ...string) *exec.Cmd {
		cmd := exec.Command(EjabberdCtlPath, append([]string{"--config-dir", conf}, args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}}
		return cmd
	}
	p := &Peer{
		Kind: "ejabberd", Domain: cfg.Domain, Dir: dir, certFile: cfg.CertFile,
		C2SAddr: fmt.Sprintf("127.0.0.1:%d", ports.C2SPort),
		S2SAddr: fmt.Sprintf("127.0.0.1:%d", ports.S2SPort), S2SPort: uint16(ports.S2SPort),
		LogFile:  filepath.Join(dir, "log", "ejabberd.log"),
		extraLog: []string{filepath.Join(dir, "log", "error.log"), filepath.Join(dir, "stdout.log")},
	}
	p.addUser = func(local, password string) error {
		return registerInBand(p.Endpoint(), local, password)
	}
	p.ctl = ctl

	proc := startProcess(t, ctl("foreground"), filepath.Join(dir, "stdout.log"))
	t.Cleanup(func() {
		// SIGTERM to the VM (its pid file) stops it in about a second.
		pid := 0
		if b, err := os.ReadFile(filepath.Join(dir, "spool", "ejabberd.pid")); err == nil {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if err := proc.stop(pid, 10*time.Second); err != nil {
			t.Errorf("ejabberd %s: %v", cfg.Domain, err)
		}
		if t.Failed() {
			t.Logf("ejabberd %s, end of the logs:\n%s", cfg.Domain, p.logTail())
		}
	})
	waitListening(t, p, proc, 30*time.Second, p.C2SAddr, p.S2SAddr)
	addUsers(t, p, cfg.Users)
	return p
}

// registerInBand creates an account on ep with in-band registration
// (XEP-0077) after STARTTLS.
func registerInBand(ep Endpoint, local, password string) error {
	c, _, err := startTLS(ep, "")
	if err != nil {
		return err
	}
	defer c.conn.Close()
	var b strings.Builder
	b.WriteString(`<iq type='set' id='register'><query xmlns='jabber:iq:register'><username>`)
	_ = xml.EscapeText(&b, []byte(local))
	b.WriteString(`</username><password>`)
	_ = xml.EscapeText(&b, []byte(password))
	b.WriteString(`</password></query></iq>`)
	c.write(b.String())
	el, err := c.dec.Next()
	if err != nil {
		return err
	}
	if el.Name != "iq" || el.Attr("type") != "result" {
		return fmt.Errorf("in-band registration refused: %s", el)
	}
	c.write(stream.Close)
	return nil
}

func chownAll(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
