package server_test

import (
	"os"
	"os/exec"
	"regexp"
	"testing"

	"hearth/server"
	"hearth/server/xmpptest"
)

// uclient is coturn's test client (Debian's coturn package).
const uclient = "/usr/bin/turnutils_uclient"

// TestTURNCoturnClient: another implementation's TURN client, coturn's
// turnutils_uclient, takes the credentials of Hearth's XEP-0215 answer and
// relays between two of its clients through Hearth (each sends to the
// other's relay), over UDP and over TCP; a wrong password is refused.
func TestTURNCoturnClient(t *testing.T) {
	if _, err := os.Stat(uclient); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing in CI: %v", uclient, err)
		}
		t.Skipf("%s not installed (make deps installs coturn)", uclient)
	}
	// turnutils_uclient does not always release its relays when it ends
	// (they expire): room for all three runs.
	srv := xmpptest.Start(t, withTURN, func(c *server.Config) { c.TURN.PerUser = 10 })
	srv.AddUser(t, "alice", secret("alice"))
	alice := srv.Login(t, "alice", secret("alice"), "phone")
	all := services(t, alice, "s1", `<services xmlns='urn:xmpp:extdisco:2'/>`)
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			s := pick(t, all, "turn", transport)
			args := []string{"-y", "-c", "-n", "50", "-m", "2", "-l", "1000", "-u", s.Attr("username"), "-w", s.Attr("password"), "-p", s.Attr("port")}
			if transport == "tcp" {
				args = append(args, "-t")
			}
			out, err := exec.Command(uclient, append(args, s.Attr("host"))...).CombinedOutput()
			if err != nil {
				t.Fatalf("turnutils_uclient: %v\n%s", err, out)
			}
			// Two clients, 50 messages each of 1000 bytes.
			if !regexp.MustCompile(`tot_send_msgs=100, tot_recv_msgs=100\b`).Match(out) ||
				!regexp.MustCompile(`Total lost packets 0 `).Match(out) {
				t.Fatalf("not every message came through the relays:\n%s", out)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		s := pick(t, all, "turn", "udp")
		out, _ := exec.Command(uclient, "-y", "-c", "-n", "5", "-u", s.Attr("username"), "-w", "silver-kettle-forged", "-p", s.Attr("port"), s.Attr("host")).CombinedOutput()
		if regexp.MustCompile(`tot_recv_msgs=[1-9]`).Match(out) || !regexp.MustCompile(`error 40[01]`).Match(out) {
			t.Fatalf("a wrong password was not refused:\n%s", out)
		}
	})
}
