package admin

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestSocket(t *testing.T) {
	l := newLocal(t)
	ctx := t.Context()

	start := time.Now()
	if _, err := Dial(l.DataDir); !errors.Is(err, ErrOffline) {
		t.Fatalf("Dial without a server: %v, want ErrOffline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Dial without a server took %v", d)
	}

	// A stale socket of a server that died is replaced.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: SocketPath(l.DataDir), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	ln, err := Listen(l.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(SocketPath(l.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Serve(sctx, ln, l) }()

	// A second server on the same data directory is refused.
	if ln2, err := Listen(l.DataDir); err == nil {
		ln2.Close()
		t.Error("second Listen succeeded")
	}

	api, err := Dial(l.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	events := api.Watch(ctx)

	// Errors keep their message and their kind.
	lerr := l.DeleteUser(ctx, "nobody")
	rerr := api.DeleteUser(ctx, "nobody")
	if !errors.Is(rerr, ErrNotFound) || rerr.Error() != lerr.Error() {
		t.Errorf("remote error %q, want %q", rerr, lerr)
	}

	// What the client changes, the server's Local sees.
	if err := api.AddUser(ctx, "alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	if got := userJIDs(t, l); len(got) != 1 || got[0] != "alice@test.home" {
		t.Errorf("users on the server: %q", got)
	}
	if ev := next(t, events); ev != (Event{Kind: EventUsers, JID: "alice@test.home"}) {
		t.Errorf("event %+v", ev)
	}

	// Stopping the server ends Watch streams and removes the socket.
	stop()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	select {
	case _, ok := <-events:
		if ok {
			t.Error("event after the server stopped")
		}
	case <-time.After(5 * time.Second):
		t.Error("Watch channel not closed after the server stopped")
	}
	if _, err := os.Stat(SocketPath(l.DataDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Serve: %v", err)
	}
	if _, err := Dial(l.DataDir); !errors.Is(err, ErrOffline) {
		t.Errorf("Dial after the server stopped: %v, want ErrOffline", err)
	}
	if err := api.AddUser(ctx, "bob", "correct horse"); err == nil {
		t.Error("call after the server stopped succeeded")
	}
}

// The socket serves only its owner: Listen leaves no moment at which the
// socket file has the umask's mode, and nothing listens on TCP.
func TestListenTemporaryName(t *testing.T) {
	dir := t.TempDir()
	ln, err := Listen(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().Network() != "unix" {
		t.Errorf("network %q", ln.Addr().Network())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != SocketName {
		t.Errorf("data directory holds %v, want only %s", entries, SocketName)
	}
}

// stoppable is a Local whose server can be stopped, as the command's is.
type stoppable struct {
	*Local
	stop func()
}

func (s stoppable) Stop() { s.stop() }

// TestSocketStop: POST /Stop stops a server whose API is a Stopper, and
// says how to stop one that is not.
func TestSocketStop(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stoppable bool
	}{
		{"stoppable", true},
		{"not stoppable", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLocal(t)
			ln, err := Listen(l.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			sctx, stop := context.WithCancel(t.Context())
			defer stop()
			var api API = l
			if tc.stoppable {
				api = stoppable{Local: l, stop: stop}
			}
			done := make(chan error, 1)
			go func() { done <- Serve(sctx, ln, api) }()
			c, err := Dial(l.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			err = c.(*Client).Stop(t.Context())
			if !tc.stoppable {
				if err == nil || !strings.Contains(err.Error(), "cannot be stopped over its admin socket") {
					t.Errorf("Stop: %v, want a refusal that says how to stop it", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server still serves 10s after Stop")
			}
		})
	}
}

// window is a Local whose process shows a window, as the command's does.
type window struct {
	*Local
	shown int
	err   error
}

func (w *window) ShowWindow() error {
	w.shown++
	return w.err
}

// TestSocketShowWindow: POST /ShowWindow shows the window of a server
// that has one, and says why not otherwise.
func TestSocketShowWindow(t *testing.T) {
	l := newLocal(t)
	w := &window{Local: l}
	for _, tc := range []struct {
		name string
		api  API
		err  string
	}{
		{"a window", w, ""},
		{"a window that cannot show", &window{Local: l, err: errors.New("the window is closing")}, "the window is closing"},
		{"no window", l, "this server has no window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := Listen(l.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			sctx, stop := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- Serve(sctx, ln, tc.api) }()
			defer func() {
				stop()
				<-done
			}()
			c, err := Dial(l.DataDir)
			if err != nil {
				t.Fatal(err)
			}
			defer c.(*Client).Close()
			err = c.(*Client).ShowWindow(t.Context())
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("ShowWindow: %v", err)
			case tc.err != "" && (err == nil || err.Error() != tc.err):
				t.Errorf("ShowWindow: %v, want %q", err, tc.err)
			}
		})
	}
	if w.shown != 1 {
		t.Errorf("the window was shown %d times, want once", w.shown)
	}
}
