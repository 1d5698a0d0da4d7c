// Package accept is the accept loop the federation and component
// listeners share: a failure that passes (a timeout, no file descriptor
// left) is tried again after a pause that grows, as net/http does.
package accept

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// The pause after a failure that passes: the first, and the longest.
const (
	FirstDelay = 5 * time.Millisecond
	MaxDelay   = time.Second
)

// Loop hands every connection accepted on ln to handle, until ctx is done
// or ln is closed (then it returns nil); another failure is returned.
// handle runs on Loop's goroutine: it starts its own for long work.
func Loop(ctx context.Context, ln net.Listener, log *slog.Logger, handle func(net.Conn)) error {
	var delay time.Duration
	var pause *time.Timer
	defer func() {
		if pause != nil {
			pause.Stop()
		}
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !passing(err) {
				return err
			}
			delay = min(max(2*delay, FirstDelay), MaxDelay)
			if log != nil {
				log.Warn("a connection could not be accepted; trying again shortly", "addr", ln.Addr().String(), "err", err, "delay", delay)
			}
			if pause == nil {
				pause = time.NewTimer(delay)
			} else {
				pause.Reset(delay)
			}
			select {
			case <-pause.C:
			case <-ctx.Done():
				return nil
			}
			continue
		}
		delay = 0
		handle(nc)
	}
}

// passing says whether an accept failure may pass: a timeout, or the
// process or the system out of file descriptors.
func passing(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
