package c2s

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestLogViewConnectionLost: why a session ended is said in words a person
// reads in the Log tab, never Go's error text.
func TestLogViewConnectionLost(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: err}}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"eof", io.EOF, "the device closed the connection"},
		{"unexpected eof", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "the device closed the connection"},
		{"reset", opErr(syscall.ECONNRESET), "the network connection dropped"},
		{"broken pipe", opErr(syscall.EPIPE), "the network connection dropped"},
		{"no route", opErr(syscall.EHOSTUNREACH), "the network connection dropped"},
		{"deadline", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, "the device stopped answering"},
		{"timeout", opErr(syscall.ETIMEDOUT), "the device stopped answering"},
		{"closed here", &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}, "the server closed the connection"},
		{"stopping", errStopped, "the server is stopping"},
		{"tls", tls.AlertError(20), "the connection was lost"},
		{"other", errors.New("read tcp 1.2.3.4:5222->5.6.7.8:1234: something odd"), "the connection was lost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := lostWhy(tc.err); got != tc.want {
				t.Errorf("lostWhy(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
