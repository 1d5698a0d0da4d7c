package admin

// The client side of the admin socket (socket.go): the API as calls to
// a running server's socket, for the command line and the window.

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
	"time"
)

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
