package upload

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"hearth/certs"
	"hearth/server/internal/mod/modtest"
	"hearth/server/internal/stanza"
	"hearth/server/internal/web"
	"hearth/storage"
)

// clock is a test's time, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	m     *Module
	db    *storage.DB
	dir   string
	clock *clock
}

func newFixture(t *testing.T, l Limits) *fixture {
	t.Helper()
	db := modtest.DB(t, "alice", "bob")
	dir := t.TempDir()
	w := serveWeb(t, dir)
	if err := w.SetPublicURL("https://files." + modtest.Domain); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	m, err := New(Deps{DB: db, Router: modtest.Router(), Domain: modtest.Domain, DataDir: dir, Web: w, Limits: l, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, db: db, dir: dir, clock: c}
}

// serveWeb runs an HTTPS listener on loopback until the test ends (the
// module gives out URLs only while one serves); the tests call the
// module's handler directly.
func serveWeb(t *testing.T, dir string) *web.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := certs.Start(ctx, certs.Config{DataDir: dir, Domain: modtest.Domain, Mode: certs.ModeLocal})
	if err != nil {
		t.Fatal(err)
	}
	w := web.New(web.Config{Domain: modtest.Domain, TLS: cm.TLSConfig})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		cm.Close()
	})
	for w.BaseURL() == "" {
		time.Sleep(time.Millisecond)
	}
	return w
}

// slot asks for a slot as user and returns its PUT and GET URLs, or the
// error.
func (f *fixture) slot(t *testing.T, user, name string, size int64, ct string) (put, get string, e *stanza.Error) {
	t.Helper()
	attrs := "filename='" + name + "' size='" + strconv.FormatInt(size, 10) + "'"
	if ct != "" {
		attrs += " content-type='" + ct + "'"
	}
	st := modtest.Stanza(t, "<iq type='get' id='s' from='"+user+"@"+modtest.Domain+"/pc' to='upload."+modtest.Domain+"'><request xmlns='"+NS+"' "+attrs+"/></iq>")
	res, e := f.m.request(context.Background(), st, st.Payload())
	if e != nil {
		return "", "", e
	}
	return res.Child("put", NS).Attr("url"), res.Child("get", NS).Attr("url"), nil
}

// do sends a request to the files' handler.
func (f *fixture) do(t *testing.T, method, rawURL string, body []byte, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(method, u.RequestURI(), bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if cl, ok := hdr["Content-Length"]; ok {
		r.ContentLength, _ = strconv.ParseInt(cl, 10, 64)
	}
	w := httptest.NewRecorder()
	files{f.m}.ServeHTTP(w, r)
	return w
}

// stored lists the files in the store and its temporary directory.
func (f *fixture) stored(t *testing.T) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(f.dir, "uploads"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestPutGet(t *testing.T) {
	f := newFixture(t, Limits{})
	body := []byte("a photo of the garden")
	put, get, e := f.slot(t, "alice", "garden ü.jpg", int64(len(body)), "image/jpeg")
	if e != nil {
		t.Fatal(e)
	}
	if !strings.HasPrefix(get, "https://files.example.org/upload/") || !strings.HasPrefix(put, get+"?") {
		t.Fatalf("put %s get %s", put, get)
	}
	if w := f.do(t, "GET", get, nil, nil); w.Code != http.StatusNotFound {
		t.Fatalf("GET before the PUT: %d", w.Code)
	}
	if w := f.do(t, "PUT", put, body, map[string]string{"Content-Type": "image/jpeg"}); w.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", w.Code, w.Body)
	}
	w := f.do(t, "GET", get, nil, nil)
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), body) {
		t.Fatalf("GET: %d %q", w.Code, w.Body)
	}
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Type":                "image/jpeg",
		"Content-Length":              strconv.Itoa(len(body)),
		"Content-Disposition":         "inline; filename*=utf-8''garden%20%C3%BC.jpg",
		"Access-Control-Allow-Origin": "*",
		"X-Content-Type-Options":      "nosniff",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if h.Get("ETag") == "" || h.Get("Last-Modified") == "" {
		t.Errorf("no ETag or Last-Modified: %v", h)
	}
	w = f.do(t, "GET", get, nil, map[string]string{"Range": "bytes=2-6"})
	if w.Code != http.StatusPartialContent || w.Body.String() != "photo" {
		t.Fatalf("range: %d %q", w.Code, w.Body)
	}
	w = f.do(t, "HEAD", get, nil, nil)
	if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Fatalf("HEAD: %d %q %v", w.Code, w.Body, w.Header())
	}
	w = f.do(t, "OPTIONS", put, nil, map[string]string{"Origin": "https://web.example", "Access-Control-Request-Method": "PUT"})
	if w.Code != http.StatusNoContent || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "Content-Type") ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	// Expiry: the purge deletes the file and its record.
	f.clock.add(DefaultExpiry + time.Minute)
	if w := f.do(t, "GET", get, nil, nil); w.Code != http.StatusNotFound {
		t.Fatalf("GET after expiry: %d", w.Code)
	}
	n, bytes, err := f.m.store.Purge(context.Background(), f.db, "", true, f.clock.now())
	if err != nil || n != 1 || bytes != int64(len(body)) {
		t.Fatalf("purge: %d %d %v", n, bytes, err)
	}
	if left := f.stored(t); len(left) != 0 {
		t.Fatalf("left after the purge: %v", left)
	}
}

func TestBadPut(t *testing.T) {
	f := newFixture(t, Limits{})
	body := []byte("0123456789")
	slot := func() (string, string) {
		put, get, e := f.slot(t, "alice", "notes.txt", int64(len(body)), "text/plain")
		if e != nil {
			t.Fatal(e)
		}
		return put, get
	}
	ct := map[string]string{"Content-Type": "text/plain"}
	t.Run("too long", func(t *testing.T) {
		put, _ := slot()
		if w := f.do(t, "PUT", put, append(body, 'x'), ct); w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("too short", func(t *testing.T) {
		put, _ := slot()
		if w := f.do(t, "PUT", put, body[:5], ct); w.Code != http.StatusBadRequest {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("body shorter than its Content-Length", func(t *testing.T) {
		put, get := slot()
		w := f.do(t, "PUT", put, body[:5], map[string]string{"Content-Type": "text/plain", "Content-Length": "10"})
		if w.Code != http.StatusBadRequest {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := f.do(t, "GET", get, nil, nil); w.Code != http.StatusNotFound {
			t.Fatalf("GET of a cut-off upload: %d", w.Code)
		}
		// The slot stays open for another try.
		if w := f.do(t, "PUT", put, body, ct); w.Code != http.StatusCreated {
			t.Fatalf("retry: %d %s", w.Code, w.Body)
		}
	})
	t.Run("wrong type", func(t *testing.T) {
		put, _ := slot()
		if w := f.do(t, "PUT", put, body, map[string]string{"Content-Type": "text/html"}); w.Code != http.StatusBadRequest {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := f.do(t, "PUT", put, body, map[string]string{"Content-Type": "Text/Plain"}); w.Code != http.StatusCreated {
			t.Fatalf("same type, other case: %d %s", w.Code, w.Body)
		}
	})
	t.Run("reused", func(t *testing.T) {
		put, _ := slot()
		if w := f.do(t, "PUT", put, body, ct); w.Code != http.StatusCreated {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if w := f.do(t, "PUT", put, []byte("9876543210"), ct); w.Code != http.StatusConflict {
			t.Fatalf("second PUT: %d %s", w.Code, w.Body)
		}
	})
	t.Run("forged", func(t *testing.T) {
		put, _ := slot()
		u, _ := url.Parse(put)
		q := u.Query()
		sig := []byte(q.Get("sig"))
		sig[3] ^= 1
		q.Set("sig", string(sig))
		forged := *u
		forged.RawQuery = q.Encode()
		other := *u
		other.Path = pathPrefix + newSlot() + "/notes.txt"
		later := *u
		q = u.Query()
		exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
		q.Set("expires", strconv.FormatInt(exp+3600, 10))
		later.RawQuery = q.Encode()
		for _, bad := range []string{forged.String(), other.String(), later.String(), u.Scheme + "://" + u.Host + u.Path} {
			if w := f.do(t, "PUT", bad, body, ct); w.Code != http.StatusForbidden {
				t.Fatalf("%s: %d %s", bad, w.Code, w.Body)
			}
		}
	})
	t.Run("expired", func(t *testing.T) {
		put, _ := slot()
		f.clock.add(SlotLifetime + time.Second)
		w := f.do(t, "PUT", put, body, ct)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "expired") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	})
	t.Run("traversal", func(t *testing.T) {
		for _, p := range []string{
			"/upload/../hearth.db", "/upload/%2e%2e/hearth.db", "/upload/..%2fhearth.db/x", "/upload/%2e%2e%2f%2e%2e%2fetc/passwd",
			"/upload/" + strings.Repeat("a", 32) + "/..", "/upload/" + strings.Repeat("a", 32) + "/%2e%2e%2fhearth.db",
			"/upload/..%5c..%5chearth.db/x", "/upload/uploads.secret/x", "/upload/" + strings.Repeat("A", 32) + "/x",
		} {
			if w := f.do(t, "GET", "https://files.example.org"+p, nil, nil); w.Code != http.StatusNotFound {
				t.Errorf("GET %s: %d", p, w.Code)
			}
			if w := f.do(t, "PUT", "https://files.example.org"+p+"?expires=1&sig=x", body, ct); w.Code != http.StatusForbidden {
				t.Errorf("PUT %s: %d", p, w.Code)
			}
		}
	})
	// Nothing refused was stored: the files are those of the PUTs that
	// succeeded.
	if got := f.stored(t); len(got) != 3 {
		t.Fatalf("stored %d files, want 3: %v", len(got), got)
	}
}

func TestLimits(t *testing.T) {
	f := newFixture(t, Limits{MaxFileBytes: 1000, QuotaBytes: 2500, DailyBytes: 4000})
	t.Run("too large", func(t *testing.T) {
		_, _, e := f.slot(t, "alice", "big.bin", 1001, "")
		if e == nil || e.Condition != stanza.NotAcceptable || e.Type != stanza.Modify {
			t.Fatalf("error %v", e)
		}
		modtest.Equal(t, e.Extra, `<file-too-large xmlns='urn:xmpp:http:upload:0'><max-file-size>1000</max-file-size></file-too-large>`)
	})
	t.Run("quota", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if _, _, e := f.slot(t, "alice", "a.bin", 1000, ""); e != nil {
				t.Fatal(e)
			}
		}
		_, _, e := f.slot(t, "alice", "a.bin", 1000, "")
		if e == nil || e.Condition != stanza.ResourceConstraint || !strings.Contains(e.Text, "upload.quota_bytes") {
			t.Fatalf("error %v", e)
		}
		// bob has his own share.
		if _, _, e := f.slot(t, "bob", "b.bin", 1000, ""); e != nil {
			t.Fatal(e)
		}
	})
	t.Run("not ours", func(t *testing.T) {
		st := modtest.Stanza(t, "<iq type='get' id='s' from='eve@elsewhere.example/pc' to='upload."+modtest.Domain+"'><request xmlns='"+NS+"' filename='x' size='1'/></iq>")
		if _, e := f.m.request(context.Background(), st, st.Payload()); e == nil || e.Condition != stanza.NotAllowed {
			t.Fatalf("error %v", e)
		}
	})
}

func TestDailyLimit(t *testing.T) {
	f := newFixture(t, Limits{MaxFileBytes: 1000, QuotaBytes: -1, DailyBytes: 2000})
	for i := 0; i < 2; i++ {
		if _, _, e := f.slot(t, "alice", "a.bin", 1000, ""); e != nil {
			t.Fatal(e)
		}
	}
	_, _, e := f.slot(t, "alice", "a.bin", 1, "")
	if e == nil || e.Condition != stanza.ResourceConstraint || e.Type != stanza.Wait || !strings.Contains(e.Text, "Daily limit") {
		t.Fatalf("error %v", e)
	}
	f.clock.add(24*time.Hour + time.Second)
	if _, _, e := f.slot(t, "alice", "a.bin", 1000, ""); e != nil {
		t.Fatalf("the next day: %v", e)
	}
}

func TestUserRemoved(t *testing.T) {
	f := newFixture(t, Limits{})
	for _, u := range []string{"alice", "bob"} {
		put, _, e := f.slot(t, u, "x.txt", 3, "")
		if e != nil {
			t.Fatal(e)
		}
		if w := f.do(t, "PUT", put, []byte("abc"), nil); w.Code != http.StatusCreated {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	f.m.UserRemoved(context.Background(), "alice")
	if got := f.stored(t); len(got) != 1 {
		t.Fatalf("files left: %v", got)
	}
	ups, _ := f.db.Uploads(context.Background(), "")
	if len(ups) != 1 || ups[0].User != "bob" {
		t.Fatalf("records left: %+v", ups)
	}
}

func TestStreamedPut(t *testing.T) {
	// A PUT whose body comes in pieces is written as it comes.
	f := newFixture(t, Limits{})
	const n = 3 << 20
	put, get, e := f.slot(t, "alice", "big.bin", n, "application/octet-stream")
	if e != nil {
		t.Fatal(e)
	}
	u, _ := url.Parse(put)
	r := httptest.NewRequest("PUT", u.RequestURI(), io.LimitReader(zeros{}, n))
	r.ContentLength = n
	r.Header.Set("Content-Type", "application/octet-stream")
	w := httptest.NewRecorder()
	files{f.m}.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if w := f.do(t, "HEAD", get, nil, nil); w.Header().Get("Content-Length") != strconv.Itoa(n) {
		t.Fatalf("HEAD: %v", w.Header())
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestListenerOff: with no HTTPS listener serving (--http off), a slot
// request says so instead of giving an address nothing answers at.
func TestListenerOff(t *testing.T) {
	db := modtest.DB(t, "alice")
	w := web.New(web.Config{Domain: modtest.Domain})
	if err := w.SetPublicURL("https://files.example.org"); err != nil {
		t.Fatal(err)
	}
	m, err := New(Deps{DB: db, Router: modtest.Router(), Domain: modtest.Domain, DataDir: t.TempDir(), Web: w})
	if err != nil {
		t.Fatal(err)
	}
	st := modtest.Stanza(t, "<iq type='get' id='s' from='alice@"+modtest.Domain+"/pc' to='upload."+modtest.Domain+"'><request xmlns='"+NS+"' filename='x' size='1'/></iq>")
	if _, e := m.request(context.Background(), st, st.Payload()); e == nil || e.Condition != stanza.ServiceUnavailable || !strings.Contains(e.Text, "--http") {
		t.Fatalf("error %v", e)
	}
}

// TestRacingPuts: two PUTs to one slot at once: one stores the file, the
// other is refused with 409, and the file is whole.
func TestRacingPuts(t *testing.T) {
	f := newFixture(t, Limits{})
	const n = 1 << 20
	for range 5 {
		put, get, e := f.slot(t, "alice", "race.bin", n, "")
		if e != nil {
			t.Fatal(e)
		}
		u, _ := url.Parse(put)
		codes := make(chan int, 2)
		for range 2 {
			go func() {
				r := httptest.NewRequest("PUT", u.RequestURI(), io.LimitReader(zeros{}, n))
				r.ContentLength = n
				w := httptest.NewRecorder()
				files{f.m}.ServeHTTP(w, r)
				codes <- w.Code
			}()
		}
		a, b := <-codes, <-codes
		if min(a, b) != http.StatusCreated || max(a, b) != http.StatusConflict {
			t.Fatalf("codes %d and %d, want 201 and 409", a, b)
		}
		if w := f.do(t, "HEAD", get, nil, nil); w.Code != http.StatusOK || w.Header().Get("Content-Length") != strconv.Itoa(n) {
			t.Fatalf("HEAD: %d %v", w.Code, w.Header())
		}
	}
}

// TestSweep: a file on disk with no record goes; recorded ones stay.
func TestSweep(t *testing.T) {
	f := newFixture(t, Limits{})
	put, _, e := f.slot(t, "alice", "kept.txt", 3, "")
	if e != nil {
		t.Fatal(e)
	}
	if w := f.do(t, "PUT", put, []byte("abc"), nil); w.Code != http.StatusCreated {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	stray := newSlot()
	if err := f.m.store.Put(stray, 2, strings.NewReader("xy")); err != nil {
		t.Fatal(err)
	}
	if n, err := f.m.store.Sweep(context.Background(), f.db); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if got := f.stored(t); len(got) != 1 || strings.Contains(got[0], stray) {
		t.Fatalf("left: %v", got)
	}
}
