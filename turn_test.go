package main

import (
	"testing"
)

// TestTURNCommand: hearth turn shows the running server's STUN/TURN
// service (on the loopback, as env asks), and says when no server runs.
func TestTURNCommand(t *testing.T) {
	data := t.TempDir()
	e := env(t)
	d := "--data=" + data
	check(t, e, "", 0, `(?m)^calls \(STUN/TURN\): +the server is not running$`, "turn", d)
	s, _ := start(t, e, "--headless", "--no-mdns", d, "--domain", "test.home", "--c2s", "127.0.0.1:0", "--c2s-tls", "127.0.0.1:0")
	check(t, e, "", 0, `(?ms)^calls \(STUN/TURN\): +running.*^listening: +udp 127\.0\.0\.1:\d+, tcp 127\.0\.0\.1:\d+, tls 127\.0\.0\.1:\d+$.*^relays: +on 127\.0\.0\.1, UDP ports 49152-49252.*^allocations: +0 now \(at most 100, 10 per account\)$.*^refused: +0 with wrong`, "turn", "status", d)
	check(t, e, "", 2, "", "turn", "nonsense", d)
	if code := s.stop(t); code != 0 {
		t.Errorf("stop: exit code %d", code)
	}
}
