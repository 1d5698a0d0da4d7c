package admin

// The admin socket: the API as HTTP/1.1 with JSON bodies over a Unix socket
// in the data directory, mode 0600. Each method is POST /Method with its
// arguments as one JSON object; Watch is GET /Watch, a stream of
// newline-delimited JSON events, and WatchLogs and Console
// (GET /Console?jid=...) are streams the same way; the debug views are
// GET /debug/... (debug.go); POST /Stop asks a server that can be stopped
// this way to stop (Stopper), POST /ShowWindow asks one with a window to
// show it (Shower). Admin is never reachable over the network.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// SocketName is the admin socket's file name in the data directory.
const SocketName = "admin.sock"

const (
	maxRequest      = 1 << 20 // bytes of one request body
	shutdownTimeout = 5 * time.Second
	dialTimeout     = 2 * time.Second
)

// SocketPath returns the admin socket's path in dataDir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Listen listens on the admin socket in dataDir with mode 0600. A stale
// socket left by a process that died is replaced; a socket another server
// still answers on is an error. Closing the listener removes the socket.
func Listen(dataDir string) (net.Listener, error) {
	path := SocketPath(dataDir)
	if c, err := net.DialTimeout("unix", path, dialTimeout); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin socket %s: another hearth server is running on this data directory", path)
	}
	// Bind under a temporary name, restrict it, and only then rename it
	// into place, so that the socket is never reachable with the mode
	// the umask gives.
	tmp := filepath.Join(dataDir, ".admin-"+strconv.Itoa(os.Getpid())+".sock")
	os.Remove(tmp)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln.SetUnlinkOnClose(false) // it is renamed; sockListener removes it
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("admin socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(err)
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	return &sockListener{UnixListener: ln, path: path, fi: fi}, nil
}

// sockListener removes its socket file on Close, unless another server has
// replaced it meanwhile.
type sockListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
	once sync.Once
}

func (l *sockListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, err := os.Stat(l.path); err == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

// Serve answers API calls on ln until ctx is done, then waits for the calls
// in progress (Watch streams end with ctx) and closes ln.
func Serve(ctx context.Context, ln net.Listener, api API) error {
	srv := &http.Server{
		Handler:           newHandler(api),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		// Request contexts end with ctx, so that Watch streams stop.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin socket: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc // http.ErrServerClosed
	return nil
}

// Stopper is an API that can also stop the server it belongs to: the
// command's, which owns the process, wraps the server's API in one. The
// admin socket offers it as POST /Stop (hearth stop); it is not part of
// API, which the GUI sees.
type Stopper interface {
	API
	// Stop begins a clean shutdown and returns at once.
	Stop()
}

// Shower is an API whose process shows an admin window, which it can show
// again when it was closed to keep serving in the background: a second
// hearth started on the same data directory asks for it (POST
// /ShowWindow) instead of failing. Not part of API either.
type Shower interface {
	API
	// ShowWindow shows the window; an error says why there is none.
	ShowWindow() error
}

// request holds the arguments of every method; each uses its own fields.
type request struct {
	JID      string      `json:",omitempty"`
	Password string      `json:",omitempty"`
	Disabled bool        `json:",omitempty"`
	User     string      `json:",omitempty"`
	Item     *RosterItem `json:",omitempty"`
	Contact  string      `json:",omitempty"`
	Key      string      `json:",omitempty"`
	Value    string      `json:",omitempty"`
	Since    uint64      `json:",omitempty"`
	Domain   string      `json:",omitempty"`
	On       bool        `json:",omitempty"`
	Path     string      `json:",omitempty"`
	// Room, Reason, Alternate: the room calls (rooms.go).
	Room      string `json:",omitempty"`
	Reason    string `json:",omitempty"`
	Alternate string `json:",omitempty"`
	// Invite: CreateInvite (invite.go).
	Invite *InviteSpec `json:",omitempty"`
	// Port: Export's and Import's arguments (xep0227.go).
	Port *portRequest `json:",omitempty"`
}

// errorBody is the body of a failed call.
type errorBody struct {
	Error string
	Kind  string `json:",omitempty"` // see kinds
}

// kinds names the sentinel errors on the wire, with their HTTP status.
var kinds = []struct {
	name   string
	err    error
	status int
}{
	{"not-found", ErrNotFound, http.StatusNotFound},
	{"exists", ErrExists, http.StatusConflict},
	{"invalid", ErrInvalid, http.StatusBadRequest},
	{"offline", ErrOffline, http.StatusServiceUnavailable},
	{"not-applied", ErrNotApplied, http.StatusInternalServerError},
}

// newHandler serves api over HTTP.
func newHandler(api API) http.Handler {
	mux := http.NewServeMux()
	method := func(name string, fn func(ctx context.Context, r request) (any, error)) {
		mux.HandleFunc("POST /"+name, func(w http.ResponseWriter, hr *http.Request) {
			var r request
			dec := json.NewDecoder(http.MaxBytesReader(w, hr.Body, maxRequest))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
				writeError(w, invalidf("%s: bad request body: %v", name, err))
				return
			}
			res, err := fn(hr.Context(), r)
			if err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, res)
		})
	}
	none := struct{}{}
	method("Info", func(ctx context.Context, r request) (any, error) { return api.Info(ctx) })
	method("Users", func(ctx context.Context, r request) (any, error) { return api.Users(ctx) })
	method("AddUser", func(ctx context.Context, r request) (any, error) {
		return none, api.AddUser(ctx, r.JID, r.Password)
	})
	method("DeleteUser", func(ctx context.Context, r request) (any, error) {
		return none, api.DeleteUser(ctx, r.JID)
	})
	method("SetPassword", func(ctx context.Context, r request) (any, error) {
		return none, api.SetPassword(ctx, r.JID, r.Password)
	})
	method("SetDisabled", func(ctx context.Context, r request) (any, error) {
		return none, api.SetDisabled(ctx, r.JID, r.Disabled)
	})
	method("Roster", func(ctx context.Context, r request) (any, error) { return api.Roster(ctx, r.User) })
	method("AddRosterItem", func(ctx context.Context, r request) (any, error) {
		if r.Item == nil {
			return nil, invalidf("add roster item: no item")
		}
		return none, api.AddRosterItem(ctx, r.User, *r.Item)
	})
	method("RemoveRosterItem", func(ctx context.Context, r request) (any, error) {
		return none, api.RemoveRosterItem(ctx, r.User, r.Contact)
	})
	method("MakeMutual", func(ctx context.Context, r request) (any, error) {
		return none, api.MakeMutual(ctx, r.User, r.Contact)
	})
	method("Sessions", func(ctx context.Context, r request) (any, error) { return api.Sessions(ctx) })
	method("Kick", func(ctx context.Context, r request) (any, error) { return none, api.Kick(ctx, r.JID) })
	method("Settings", func(ctx context.Context, r request) (any, error) { return api.Settings(ctx) })
	method("SetSetting", func(ctx context.Context, r request) (any, error) {
		restart, err := api.SetSetting(ctx, r.Key, r.Value)
		return restartBody{restart}, err
	})
	method("TestFederation", func(ctx context.Context, r request) (any, error) {
		steps, err := api.TestFederation(ctx, r.Domain)
		return stepsBody{steps}, err
	})
	method("LinkLocal", func(ctx context.Context, r request) (any, error) { return api.LinkLocal(ctx) })
	method("SetLinkLocal", func(ctx context.Context, r request) (any, error) {
		return none, api.SetLinkLocal(ctx, r.User, r.On)
	})
	uploadMethods(api, method)
	roomMethods(api, method)
	inviteMethods(api, method)
	componentMethods(api, method)
	portMethods(api, method)
	method("CheckDatabase", func(ctx context.Context, r request) (any, error) {
		problems, err := api.CheckDatabase(ctx)
		return problemsBody{problems}, err
	})
	method("Backup", func(ctx context.Context, r request) (any, error) { return api.Backup(ctx, r.Path) })
	method("Stop", func(ctx context.Context, r request) (any, error) {
		s, ok := api.(Stopper)
		if !ok {
			return nil, fmt.Errorf("this server cannot be stopped over its admin socket: stop it with kill %d", os.Getpid())
		}
		s.Stop()
		return none, nil
	})
	method("ShowWindow", func(ctx context.Context, r request) (any, error) {
		s, ok := api.(Shower)
		if !ok {
			return nil, errors.New("this server has no window")
		}
		return none, s.ShowWindow()
	})
	method("Logs", func(ctx context.Context, r request) (any, error) { return api.Logs(ctx, r.Since) })
	debugHandlers(mux)
	mux.HandleFunc("GET /Watch", func(w http.ResponseWriter, hr *http.Request) {
		streamNDJSON(w, api.Watch(hr.Context()))
	})
	mux.HandleFunc("GET /WatchLogs", func(w http.ResponseWriter, hr *http.Request) {
		streamNDJSON(w, api.WatchLogs(hr.Context()))
	})
	mux.HandleFunc("GET /Console", func(w http.ResponseWriter, hr *http.Request) {
		frames, err := api.Console(hr.Context(), hr.URL.Query().Get("jid"))
		if err != nil {
			writeError(w, err)
			return
		}
		streamNDJSON(w, frames)
	})
	return mux
}

// streamNDJSON writes what ch delivers as newline-delimited JSON until it
// is closed (the request's context ended: the client went away or the
// server stops) or the client stops reading.
func streamNDJSON[T any](w http.ResponseWriter, ch <-chan T) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// The headers tell the client that it is subscribed.
	if rc.Flush() != nil {
		return
	}
	enc := json.NewEncoder(w)
	for v := range ch {
		if enc.Encode(v) != nil || rc.Flush() != nil {
			return // the client went away; ctx ends the subscription
		}
	}
}

type restartBody struct{ Restart bool }

type problemsBody struct{ Problems []string }

type stepsBody struct{ Steps []FederationStep }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, err error) {
	body, status := errorBody{Error: err.Error()}, http.StatusInternalServerError
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			body.Kind, status = k.name, k.status
			break
		}
	}
	writeJSON(w, status, body)
}
