package accept

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// listener gives what its test puts in next: a connection or an error;
// once closed, net.ErrClosed.
type listener struct {
	next   chan any
	closed chan struct{}
}

func newListener() *listener {
	return &listener{next: make(chan any), closed: make(chan struct{})}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case v := <-l.next:
		if err, ok := v.(error); ok {
			return nil, err
		}
		return v.(net.Conn), nil
	case <-l.closed:
		return nil, fmt.Errorf("accept: %w", net.ErrClosed)
	}
}

func (l *listener) Close() error   { close(l.closed); return nil }
func (l *listener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5347} }

var tooMany = &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}

// TestLoop: failures that pass are tried again after pauses that double
// (5ms, 10ms, 20ms) and start over after a connection; the listener's
// close ends the loop with nil, another failure with that failure.
func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newListener()
		got := make(chan net.Conn, 1)
		ended := make(chan error, 1)
		go func() { ended <- Loop(context.Background(), l, nil, func(nc net.Conn) { got <- nc }) }()

		// Each Accept is taken when the loop asks again: the time
		// between two is the pause after the first.
		var at []time.Time
		give := func(v any) {
			l.next <- v
			at = append(at, time.Now())
		}
		give(tooMany)
		give(os.ErrDeadlineExceeded) // a timeout passes too
		give(tooMany)
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		give(a)
		if nc := <-got; nc != a {
			t.Fatal("the connection was not handed over")
		}
		give(tooMany)
		give(tooMany)
		var pauses []time.Duration
		for i := 1; i < len(at); i++ {
			pauses = append(pauses, at[i].Sub(at[i-1]))
		}
		want := []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 0, 5 * time.Millisecond}
		if fmt.Sprint(pauses) != fmt.Sprint(want) {
			t.Fatalf("pauses %v, want %v", pauses, want)
		}
		l.Close()
		if err := <-ended; err != nil {
			t.Fatalf("after close: %v", err)
		}

		l = newListener()
		go func() { ended <- Loop(context.Background(), l, nil, func(net.Conn) {}) }()
		bad := errors.New("the listener broke")
		l.next <- bad
		if err := <-ended; err != bad {
			t.Fatalf("another failure: %v", err)
		}
	})
}

// TestLoopStops: a loop pausing after a failure ends when its context does.
func TestLoopStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newListener()
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan error, 1)
		go func() { ended <- Loop(ctx, l, nil, func(net.Conn) {}) }()
		for range 12 {
			l.next <- tooMany
		}
		synctest.Wait() // pausing a second now
		start := time.Now()
		cancel()
		if err := <-ended; err != nil || time.Since(start) != 0 {
			t.Fatalf("after cancel: %v after %v", err, time.Since(start))
		}
	})
}
