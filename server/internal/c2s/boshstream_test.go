package c2s

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// boshTest is one BOSH session's framing with no HTTP in front: requests
// are handed to it as the handler does.
type boshTest struct {
	t *testing.T
	f *boshStream
}

func newBOSHTest(t *testing.T, hold int) (*boshTest, *boshReq) {
	t.Helper()
	srv := New(Config{Domain: "hearth.test"})
	bd := &body{rid: 10, to: "hearth.test", version: "1.0", wait: 30, hold: hold}
	f := newBOSH(srv, httptest.NewRequest("POST", BOSHPath, nil), bd)
	srv.bosh.add(f)
	first := f.first(bd)
	return &boshTest{t: t, f: f}, first
}

// req hands over a request with rid and payload; it returns the request
// and, when it was answered at once, the answer.
func (b *boshTest) req(rid int64, payload ...*stanza.Element) (*boshReq, []byte) {
	r := &boshReq{rid: rid, body: &body{rid: rid, sid: b.f.sid, children: payload}, at: time.Now(), resp: make(chan []byte, 1)}
	b.f.mu.Lock()
	ans, done := b.f.admitLocked(r)
	b.f.mu.Unlock()
	if done {
		return r, ans
	}
	return r, nil
}

// answer returns r's answer, which must have come.
func answer(t *testing.T, r *boshReq) string {
	t.Helper()
	select {
	case b := <-r.resp:
		r.resp <- b // for a second look
		return string(b)
	default:
		t.Fatalf("request %d not answered", r.rid)
		return ""
	}
}

func waiting(t *testing.T, r *boshReq) {
	t.Helper()
	select {
	case b := <-r.resp:
		t.Fatalf("request %d answered %s; it should wait", r.rid, b)
	default:
	}
}

// open answers the creation request as the session's negotiation does.
func (b *boshTest) open() {
	b.t.Helper()
	if err := b.f.WriteOpen(stream.Header{From: "hearth.test", ID: "s1", Version: "1.0"}, nil); err != nil {
		b.t.Fatal(err)
	}
	h, err := b.f.ReadOpen()
	if err != nil || h.To != "hearth.test" || h.Version != "1.0" || h.NS != stanza.NSClient {
		b.t.Fatalf("open %+v %v", h, err)
	}
}

// TestBOSHHoldAndWindow: requests past 'hold' answer the oldest (XEP-0124
// 10); a request sent again gets the answer it had (14.3); one beyond the
// window ends the session with item-not-found (14.2), and every request
// waiting gets that end.
func TestBOSHHoldAndWindow(t *testing.T) {
	b, first := newBOSHTest(t, 1)
	waiting(t, first)
	b.open()
	if a := answer(t, first); !strings.Contains(a, `sid="`+b.f.sid+`"`) || !strings.Contains(a, `hold="1"`) || !strings.Contains(a, `requests="2"`) || !strings.Contains(a, `authid="s1"`) {
		t.Fatalf("creation answered %s", a)
	}
	r11, _ := b.req(11)
	waiting(t, r11)
	r12, _ := b.req(12, stanza.New("presence", stanza.NSClient))
	if a := answer(t, r11); a != string(emptyBody()) {
		t.Fatalf("11 answered %s", a)
	}
	waiting(t, r12)
	if el, err := b.f.Next(); err != nil || el.Name != "presence" {
		t.Fatalf("next: %v %v", el, err)
	}
	// 11 again: the same answer.
	if _, a := b.req(11); string(a) != string(emptyBody()) {
		t.Fatalf("11 again answered %s", a)
	}
	// 12 again while it waits: the new one waits in its place.
	r12b, _ := b.req(12)
	if a := answer(t, r12); a != string(emptyBody()) {
		t.Fatalf("the old 12 answered %s", a)
	}
	waiting(t, r12b)
	if n, err := b.f.Write([]*stanza.Element{stanza.New("message", stanza.NSClient, "id", "m1")}); n != 1 || err != nil {
		t.Fatalf("write %d %v", n, err)
	}
	if a := answer(t, r12b); !strings.Contains(a, `<message xmlns="jabber:client" id="m1"/>`) {
		t.Fatalf("12 answered %s", a)
	}
	r13, _ := b.req(13)
	waiting(t, r13)
	// The window is 'requests' (2) past the last processed (13).
	_, a := b.req(16)
	if !strings.Contains(string(a), `condition="item-not-found"`) || answer(t, r13) != string(a) {
		t.Fatalf("beyond the window: %s; 13: %s", a, answer(t, r13))
	}
	if _, err := b.f.Next(); lostWhy(err) != "a BOSH request came too far ahead of the last (rid 16 after 13)" {
		t.Fatalf("the reader after the end: %v", err)
	}
	if _, err := b.f.Write([]*stanza.Element{stanza.New("message", stanza.NSClient)}); err == nil {
		t.Fatal("written after the end")
	}
}

// TestBOSHTooManyRequests: more requests at once than 'requests' end the
// session with policy-violation (XEP-0124 11); a terminate is let through.
func TestBOSHTooManyRequests(t *testing.T) {
	b, _ := newBOSHTest(t, 1)
	b.open()
	r11, _ := b.req(11)
	r13, _ := b.req(13) // waits for 12
	waiting(t, r11)
	waiting(t, r13)
	if _, a := b.req(12); !strings.Contains(string(a), `condition="policy-violation"`) {
		t.Fatalf("a third request: %s", a)
	}
	if !strings.Contains(answer(t, r11), "policy-violation") || !strings.Contains(answer(t, r13), "policy-violation") {
		t.Fatal("the waiting requests were not told")
	}

	b, _ = newBOSHTest(t, 1)
	b.open()
	b.req(11)
	b.req(13)
	r := &boshReq{rid: 12, body: &body{rid: 12, typ: "terminate"}, at: time.Now(), resp: make(chan []byte, 1)}
	b.f.mu.Lock()
	_, done := b.f.admitLocked(r)
	b.f.mu.Unlock()
	if done {
		t.Fatal("a terminate was refused")
	}
	if _, err := b.f.Next(); !errors.Is(err, stream.ErrClosed) {
		t.Fatalf("after terminate: %v", err)
	}
}

// TestBOSHPolling: a session that holds nothing (hold 0) answers at once;
// two empty requests closer than 'polling' that were answered empty end
// it with policy-violation (XEP-0124 12).
func TestBOSHPolling(t *testing.T) {
	b, first := newBOSHTest(t, 0)
	waiting(t, first) // its terms, whatever 'hold' is
	b.open()
	r11, _ := b.req(11)
	if a := answer(t, r11); a != string(emptyBody()) {
		t.Fatalf("11: %s", a)
	}
	if r12, _ := b.req(12); !strings.Contains(answer(t, r12), `condition="policy-violation"`) {
		t.Fatalf("polling too fast: %s", answer(t, r12))
	}
}

// TestBOSHWriterWaits: what the writer offers with no request held goes
// out in the next request's answer; until then Write waits, and the
// write deadline ends the wait (a client that stopped asking).
func TestBOSHWriterWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBOSHTest(t, 1)
		b.open()
		wrote := make(chan error, 1)
		go func() {
			_, err := b.f.Write([]*stanza.Element{stanza.New("message", stanza.NSClient, "id", "later")})
			wrote <- err
		}()
		synctest.Wait()
		select {
		case err := <-wrote:
			t.Fatalf("written with no request held: %v", err)
		default:
		}
		r11, _ := b.req(11)
		synctest.Wait()
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		if a := answer(t, r11); !strings.Contains(a, `id="later"`) {
			t.Fatalf("11: %s", a)
		}
		// A request that comes while the writer has not yet seen its
		// offer taken waits for what comes next, not an empty answer
		// (a client would poll again at once, breaking 'polling').
		b.f.mu.Lock()
		b.f.offer = &boshOffer{taken: true}
		b.f.mu.Unlock()
		r12, _ := b.req(12)
		waiting(t, r12)
		b.f.mu.Lock()
		b.f.offer = nil
		b.f.mu.Unlock()
		_ = b.f.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if n, err := b.f.Write([]*stanza.Element{stanza.New("message", stanza.NSClient, "id", "m12")}); n != 1 || err != nil {
			t.Fatalf("write to 12: %d %v", n, err)
		}
		if a := answer(t, r12); !strings.Contains(a, `id="m12"`) {
			t.Fatalf("12: %s", a)
		}
		go func() {
			_, err := b.f.Write([]*stanza.Element{stanza.New("message", stanza.NSClient)})
			wrote <- err
		}()
		time.Sleep(6 * time.Second)
		if err := <-wrote; !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("after the deadline: %v", err)
		}
	})
}

// TestBOSHWaitAndInactivity: a held request is answered empty after
// 'wait'; a session with no request for 'inactivity' is over for its
// reader, as a lost connection (held for resumption with stream
// management).
func TestBOSHWaitAndInactivity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBOSHTest(t, 1)
		b.open()
		r11 := &boshReq{rid: 11, body: &body{rid: 11}, at: time.Now(), resp: make(chan []byte, 1)}
		got := make(chan []byte, 1)
		go func() {
			b.f.mu.Lock()
			b.f.admitLocked(r11)
			b.f.mu.Unlock()
			got <- b.f.await(context.Background(), r11)
		}()
		time.Sleep(b.f.wait - time.Second)
		synctest.Wait()
		if len(got) != 0 {
			t.Fatal("answered before 'wait'")
		}
		time.Sleep(2 * time.Second)
		if a := <-got; string(a) != string(emptyBody()) {
			t.Fatalf("after wait: %s", a)
		}
		read := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := b.f.Next()
			read <- err
		}()
		err := <-read
		if !errors.Is(err, errBOSHInactive) || time.Since(start) < boshInactivity-time.Second {
			t.Fatalf("after %v: %v", time.Since(start), err)
		}
		if lostWhy(err) != "the device stopped answering" {
			t.Fatalf("why: %s", lostWhy(err))
		}
		b.f.Close()
	})
}

// TestBOSHBackpressure: past boshMaxPending of elements the reader has
// not read, the next request waits to be processed until the reader
// takes some, as TCP's socket makes a client wait.
func TestBOSHBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBOSHTest(t, 1)
		b.open()
		big := stanza.New("message", stanza.NSClient).Append(stanza.New("body", stanza.NSClient).AppendText(strings.Repeat("x", boshMaxPending+1)))
		b.req(11, big)
		done := make(chan []byte, 1)
		go func() {
			done <- b.f.request(context.Background(), &body{rid: 12, sid: b.f.sid, children: []*stanza.Element{stanza.New("presence", stanza.NSClient)}})
		}()
		synctest.Wait()
		b.f.mu.Lock()
		rid := b.f.rid
		b.f.mu.Unlock()
		if rid != 11 {
			t.Fatalf("request 12 processed with %d bytes unread", boshMaxPending+1)
		}
		if el, err := b.f.Next(); err != nil || el != big {
			t.Fatalf("next: %v", err)
		}
		synctest.Wait()
		if el, err := b.f.Next(); err != nil || el.Name != "presence" {
			t.Fatalf("after the room: %v %v", el, err)
		}
		b.f.Close()
		<-done
	})
}

// TestBOSHHungUpRequest: a request whose client hung up is answered
// empty; what the writer offers then waits for the next request instead
// of going to nobody.
func TestBOSHHungUpRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := newBOSHTest(t, 1)
		b.open()
		wrote := make(chan error, 1)
		go func() {
			_, err := b.f.Write([]*stanza.Element{stanza.New("message", stanza.NSClient, "id", "kept")})
			wrote <- err
		}()
		synctest.Wait()
		// 12 comes before 11 (a second connection), and its client hangs
		// up while it waits.
		ctx, hangUp := context.WithCancel(context.Background())
		got := make(chan []byte, 1)
		go func() {
			got <- b.f.request(ctx, &body{rid: 12, sid: b.f.sid})
		}()
		synctest.Wait()
		if len(got) != 0 || len(wrote) != 0 {
			t.Fatal("12 was answered before 11 came")
		}
		hangUp()
		synctest.Wait()
		if a := <-got; string(a) != string(emptyBody()) {
			t.Fatalf("the request that hung up was answered %s", a)
		}
		if len(wrote) != 0 {
			t.Fatal("the writer's offer went to a request nobody reads")
		}
		r11, _ := b.req(11)
		synctest.Wait()
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		if a := answer(t, r11); !strings.Contains(a, `id="kept"`) {
			t.Fatalf("11: %s", a)
		}
		b.f.Close()
	})
}
