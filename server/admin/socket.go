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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
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

// remoteError is an error returned by the server: its message, and the
// sentinel of its kind for errors.Is.
type remoteError struct {
	msg  string
	kind error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.kind }

// Client is the API over the admin socket.
type Client struct {
	path string
	http *http.Client
}

var _ API = (*Client)(nil)

// Dial connects to the admin socket of the server running on dataDir. If
// no server listens there, the error wraps ErrOffline.
func Dial(dataDir string) (API, error) {
	path := SocketPath(dataDir)
	c, err := net.DialTimeout("unix", path, dialTimeout)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("admin socket %s: %w", path, err)
		}
		return nil, fmt.Errorf("no hearth server on %s: %w", path, ErrOffline)
	}
	c.Close()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableCompression:  true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{path: path, http: &http.Client{Transport: tr}}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// call does one method call: r as the body, the answer decoded into res
// (nil: ignored).
func (c *Client) call(ctx context.Context, method string, r request, res any) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://hearth/"+method, bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(hr)
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("admin socket %s: %s: %w", c.path, method, err)
	}
	if resp.StatusCode != http.StatusOK {
		return c.failure(method, resp.Status, b)
	}
	if res == nil {
		return nil
	}
	if err := json.Unmarshal(b, res); err != nil {
		return fmt.Errorf("admin socket %s: %s: %w", c.path, method, err)
	}
	return nil
}

// failure returns the error of a failed call: the server's message and
// kind from the body b, else the HTTP status.
func (c *Client) failure(method, status string, b []byte) error {
	var eb errorBody
	if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
		return fmt.Errorf("admin socket %s: %s: %s", c.path, method, status)
	}
	e := &remoteError{msg: eb.Error}
	for _, k := range kinds {
		if k.name == eb.Kind {
			e.kind = k.err
		}
	}
	return e
}

func (c *Client) Info(ctx context.Context) (Info, error) {
	var v Info
	err := c.call(ctx, "Info", request{}, &v)
	return v, err
}

func (c *Client) Users(ctx context.Context) ([]User, error) {
	var v []User
	err := c.call(ctx, "Users", request{}, &v)
	return v, err
}

func (c *Client) AddUser(ctx context.Context, jid, password string) error {
	return c.call(ctx, "AddUser", request{JID: jid, Password: password}, nil)
}

func (c *Client) DeleteUser(ctx context.Context, jid string) error {
	return c.call(ctx, "DeleteUser", request{JID: jid}, nil)
}

func (c *Client) SetPassword(ctx context.Context, jid, password string) error {
	return c.call(ctx, "SetPassword", request{JID: jid, Password: password}, nil)
}

func (c *Client) SetDisabled(ctx context.Context, jid string, disabled bool) error {
	return c.call(ctx, "SetDisabled", request{JID: jid, Disabled: disabled}, nil)
}

func (c *Client) Roster(ctx context.Context, user string) ([]RosterItem, error) {
	var v []RosterItem
	err := c.call(ctx, "Roster", request{User: user}, &v)
	return v, err
}

func (c *Client) AddRosterItem(ctx context.Context, user string, item RosterItem) error {
	return c.call(ctx, "AddRosterItem", request{User: user, Item: &item}, nil)
}

func (c *Client) RemoveRosterItem(ctx context.Context, user, contact string) error {
	return c.call(ctx, "RemoveRosterItem", request{User: user, Contact: contact}, nil)
}

func (c *Client) MakeMutual(ctx context.Context, user, contact string) error {
	return c.call(ctx, "MakeMutual", request{User: user, Contact: contact}, nil)
}

func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var v []Session
	err := c.call(ctx, "Sessions", request{}, &v)
	return v, err
}

func (c *Client) Kick(ctx context.Context, fullJID string) error {
	return c.call(ctx, "Kick", request{JID: fullJID}, nil)
}

func (c *Client) Settings(ctx context.Context) ([]Setting, error) {
	var v []Setting
	err := c.call(ctx, "Settings", request{}, &v)
	return v, err
}

func (c *Client) SetSetting(ctx context.Context, key, value string) (bool, error) {
	var v restartBody
	err := c.call(ctx, "SetSetting", request{Key: key, Value: value}, &v)
	return v.Restart, err
}

func (c *Client) TestFederation(ctx context.Context, domain string) ([]FederationStep, error) {
	var v stepsBody
	err := c.call(ctx, "TestFederation", request{Domain: domain}, &v)
	return v.Steps, err
}

func (c *Client) CheckDatabase(ctx context.Context) ([]string, error) {
	var v problemsBody
	err := c.call(ctx, "CheckDatabase", request{}, &v)
	return v.Problems, err
}

// Stop asks the server to stop cleanly, as SIGTERM would; it returns once
// the server has begun to stop.
func (c *Client) Stop(ctx context.Context) error {
	return c.call(ctx, "Stop", request{}, nil)
}

// ShowWindow asks the server's process to show its admin window.
func (c *Client) ShowWindow(ctx context.Context) error {
	return c.call(ctx, "ShowWindow", request{}, nil)
}

// Watch subscribes before it returns: events from then on are delivered.
// The channel is closed when ctx is done or the server goes away.
func (c *Client) Watch(ctx context.Context) <-chan Event {
	ch, err := subscribe[Event](ctx, c, "Watch", hubBuffer, nil)
	if err != nil {
		ch = make(chan Event)
		close(ch)
	}
	return ch
}

// WatchLogs subscribes before it returns, as Watch.
func (c *Client) WatchLogs(ctx context.Context) <-chan LogRecord {
	ch, err := subscribe(ctx, c, "WatchLogs", hubBuffer*4, func(r *LogRecord, lost int) { r.Dropped += lost })
	if err != nil {
		ch = make(chan LogRecord)
		close(ch)
	}
	return ch
}

func (c *Client) Logs(ctx context.Context, since uint64) ([]LogRecord, error) {
	var v []LogRecord
	err := c.call(ctx, "Logs", request{Since: since}, &v)
	return v, err
}

// Console watches a session's stream; it returns the server's error
// (ErrNotFound: no such session) before any frame.
func (c *Client) Console(ctx context.Context, fullJID string) (<-chan ConsoleFrame, error) {
	return subscribe(ctx, c, "Console?jid="+url.QueryEscape(fullJID), 256, func(f *ConsoleFrame, lost int) { f.Dropped += lost })
}

// subscribe reads a stream of newline-delimited JSON values from GET
// /path into a channel of size n, closed when ctx is done or the server
// goes away. A slow reader loses values, as in-process; lost, if not nil,
// tells the next value delivered how many.
func subscribe[T any](ctx context.Context, c *Client, path string, n int, lost func(*T, int)) (chan T, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://hearth/"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRequest))
		return nil, c.failure(path, resp.Status, b)
	}
	ch := make(chan T, n)
	// The goroutine ends when the body does: ctx done or the server gone.
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, maxRequest)
		dropped := 0
		for sc.Scan() {
			var v T
			if json.Unmarshal(sc.Bytes(), &v) != nil {
				return
			}
			if lost != nil {
				lost(&v, dropped)
			}
			select {
			case ch <- v:
				dropped = 0
			default:
				dropped++
			}
		}
	}()
	return ch, nil
}
