package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// installTools are the commands TestInstall runs; make deps installs them
// (make, systemd, desktop-file-utils).
var installTools = []string{"make", "install", "systemd-analyze", "systemd-sysusers", "desktop-file-validate"}

// makeInstall runs one of the Makefile's install targets with vars, in this
// repository, and returns its output. It never touches the real system:
// every caller sets DESTDIR or a PREFIX under a temporary directory, and
// SYSTEM_SETUP=no keeps it from creating the user or reloading systemd.
func makeInstall(t *testing.T, target string, vars ...string) string {
	t.Helper()
	args := append([]string{"--no-print-directory", target, "SYSTEM_SETUP=no", "GUI_BIN=" + bin, "HEADLESS_BIN=" + bin}, vars...)
	cmd := exec.Command("make", args...)
	// A make above this test (make test) must not pass its flags down.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "MAKELEVEL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestInstall installs Hearth the way a packager does (make install and make
// install-headless with DESTDIR) and the way a Raspberry Pi owner does (a
// PREFIX, here a temporary one), checks every file and its mode, validates
// the desktop entry, has systemd check the unit with systemd-analyze verify,
// and uninstalls. The binary installed is the headless one TestMain built,
// for both targets: the GUI build needs cgo and is built elsewhere.
func TestInstall(t *testing.T) {
	for _, tool := range installTools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: make deps installs it (Debian packages make, coreutils, systemd, desktop-file-utils)", tool)
		}
	}
	want, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	icon, err := os.ReadFile("assets/icon.png")
	if err != nil {
		t.Fatal(err)
	}

	// A packager: DESTDIR, the default PREFIX.
	dest := t.TempDir()
	makeInstall(t, "install", "DESTDIR="+dest)
	makeInstall(t, "install-headless", "DESTDIR="+dest)
	files := []struct {
		path    string
		mode    os.FileMode
		content []byte // nil: checked below
	}{
		{"usr/local/bin/hearth", 0o755, want},
		{"usr/local/share/applications/hearth.desktop", 0o644, nil},
		{"usr/local/share/icons/hicolor/512x512/apps/hearth.png", 0o644, icon},
		{"usr/local/lib/systemd/system/hearth.service", 0o644, nil},
		{"usr/local/lib/sysusers.d/hearth.conf", 0o644, nil},
	}
	for _, f := range files {
		p := filepath.Join(dest, f.path)
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("make install: %v", err)
			continue
		}
		if fi.Mode() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode(), f.mode)
		}
		if f.content != nil {
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, f.content) {
				t.Errorf("%s: not the file it was installed from (%v)", f.path, err)
			}
		}
	}
	var n int
	filepath.Walk(dest, func(_ string, fi os.FileInfo, _ error) error {
		if fi != nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	if n != len(files) {
		t.Errorf("make install put %d files under DESTDIR, want %d", n, len(files))
	}
	desktop := filepath.Join(dest, "usr/local/share/applications/hearth.desktop")
	if out, err := exec.Command("desktop-file-validate", desktop).CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("desktop-file-validate: %v\n%s", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(dest, "usr/local/lib/systemd/system/hearth.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"ExecStart=/usr/local/bin/hearth serve --data /var/lib/hearth --headless",
		"User=hearth", "StateDirectory=hearth", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes", "ProtectKernelTunables=yes",
		"ProtectKernelModules=yes", "ProtectKernelLogs=yes",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "RestrictNamespaces=yes",
		"LockPersonality=yes", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
		"Restart=on-failure", "KillSignal=SIGTERM", "TimeoutStopSec=30",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
	} {
		if !bytes.Contains(unit, []byte("\n"+line+"\n")) {
			t.Errorf("hearth.service lacks %q", line)
		}
	}
	// systemd-sysusers, run on a root of its own, makes the user from it.
	if err := os.MkdirAll(filepath.Join(dest, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-sysusers", "--root="+dest).CombinedOutput(); err != nil {
		t.Errorf("systemd-sysusers --root=%s: %v\n%s", dest, err, out)
	}
	passwd, _ := os.ReadFile(filepath.Join(dest, "etc/passwd"))
	if !regexp.MustCompile(`(?m)^hearth:x:\d+:\d+:[^:]*:/var/lib/hearth:\S*nologin$`).Match(passwd) {
		t.Errorf("systemd-sysusers made no system user hearth: /etc/passwd is\n%s", passwd)
	}
	for _, f := range []string{"etc/passwd", "etc/group", "etc/shadow", "etc/gshadow"} {
		os.Remove(filepath.Join(dest, f))
	}
	os.RemoveAll(filepath.Join(dest, "etc"))

	makeInstall(t, "uninstall", "DESTDIR="+dest)
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dest, f.path)); err == nil {
			t.Errorf("make uninstall left %s", f.path)
		}
	}

	// An owner: PREFIX under a temporary directory, so that the unit's
	// ExecStart names the installed binary and systemd-analyze verify can
	// check it is there and executable.
	prefix := filepath.Join(t.TempDir(), "usr")
	makeInstall(t, "install-headless", "PREFIX="+prefix)
	installed := filepath.Join(prefix, "bin", "hearth")
	if out, err := exec.Command(installed, "version").Output(); err != nil || !strings.HasPrefix(string(out), "hearth ") {
		t.Errorf("%s version: %v %q", installed, err, out)
	}
	unitPath := filepath.Join(prefix, "lib/systemd/system/hearth.service")
	out, err := exec.Command("systemd-analyze", "verify", unitPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitPath, err, out)
	}
	t.Logf("systemd-analyze verify %s: ok %s", unitPath, out)

	// verify does look at ExecStart: the same unit with the binary gone fails.
	if err := os.Remove(installed); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command("systemd-analyze", "verify", unitPath).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is not executable") {
		t.Errorf("systemd-analyze verify without the binary: %v\n%s", err, out)
	}
}
