package c2s

import (
	"net"

	"golang.org/x/sys/unix"
)

// unacked returns how many bytes written to c its peer has not yet
// acknowledged (SIOCOUTQ: sent and unacknowledged, or not sent yet), or
// -1 if it cannot tell.
func unacked(c net.Conn) int {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return -1
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	n := -1
	if err := rc.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			n = v
		}
	}); err != nil {
		return -1
	}
	return n
}
