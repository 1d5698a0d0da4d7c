package admin

// The debug views, for an operator: the running server's runtime profiles
// (runtime/pprof) and its goroutine dump. They are served on the admin
// socket only, which is mode 0600 in the data directory: never on a TCP
// listener (no net/http/pprof). They are not part of API, which the GUI
// sees; the command line reaches them through Client.
//
//	GET /debug/pprof/{profile}?seconds=N   a profile in pprof's format
//	GET /debug/goroutines                  every goroutine's stack, as text

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profiles are the profiles the debug view serves: the runtime's and cpu.
// block and mutex hold what was sampled, and the server does not switch
// their sampling on.
var Profiles = []string{"goroutine", "heap", "allocs", "block", "mutex", "threadcreate", "cpu"}

// How long a CPU profile samples, in seconds.
const (
	DefaultCPUSeconds = 10
	MaxCPUSeconds     = 60
)

// debugHandlers serves the debug views on mux. Each answer is made whole
// before it is sent, so that a failure is an error answer, not half a
// profile.
func debugHandlers(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/{profile}", func(w http.ResponseWriter, hr *http.Request) {
		seconds := DefaultCPUSeconds
		if s := hr.URL.Query().Get("seconds"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				writeError(w, invalidf("seconds %q is not a number", s))
				return
			}
			seconds = n
		}
		var b bytes.Buffer
		if err := writeProfile(hr.Context(), &b, hr.PathValue("profile"), seconds); err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b.Bytes())
	})
	mux.HandleFunc("GET /debug/goroutines", func(w http.ResponseWriter, hr *http.Request) {
		var b bytes.Buffer
		if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(b.Bytes())
	})
}

// writeProfile writes the profile name to w in pprof's format (gzipped
// protocol buffers). cpu samples for seconds, or until ctx is done.
func writeProfile(ctx context.Context, w io.Writer, name string, seconds int) error {
	if !slices.Contains(Profiles, name) {
		return invalidf("there is no profile %q; there are %s", name, strings.Join(Profiles, ", "))
	}
	if name == "cpu" {
		return cpuProfile(ctx, w, seconds)
	}
	return pprof.Lookup(name).WriteTo(w, 0)
}

// cpuProfile samples the CPU for seconds, or until ctx is done, and writes
// the profile to w.
func cpuProfile(ctx context.Context, w io.Writer, seconds int) error {
	if seconds < 1 || seconds > MaxCPUSeconds {
		return invalidf("a CPU profile samples for 1 to %d seconds, not %d", MaxCPUSeconds, seconds)
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return fmt.Errorf("a CPU profile is being taken already; try again when it is done")
	}
	t := time.NewTimer(time.Duration(seconds) * time.Second)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	pprof.StopCPUProfile()
	return ctx.Err()
}

// Profile writes the server's profile name (one of Profiles) to w in
// pprof's format, for go tool pprof; cpu samples for seconds.
func (c *Client) Profile(ctx context.Context, name string, seconds int, w io.Writer) error {
	return c.get(ctx, "/debug/pprof/"+url.PathEscape(name)+"?seconds="+strconv.Itoa(seconds), w)
}

// Goroutines writes the stacks of all the server's goroutines to w, as
// text.
func (c *Client) Goroutines(ctx context.Context, w io.Writer) error {
	return c.get(ctx, "/debug/goroutines", w)
}

// get copies the body of a successful GET of path to w.
func (c *Client) get(ctx context.Context, path string, w io.Writer) error {
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://hearth"+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return fmt.Errorf("admin socket %s: %w", c.path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxRequest))
		if err != nil {
			return fmt.Errorf("admin socket %s: %s: %w", c.path, path, err)
		}
		return c.failure(path, resp.Status, b)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("admin socket %s: %s: %w", c.path, path, err)
	}
	return nil
}
