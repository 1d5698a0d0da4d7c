package c2s

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestHTVectors checks the HT messages against values computed
// independently (Python's hmac module) for the token of XEP-0484's
// example, without and with 32 octets of channel binding (0x00..0x1f).
func TestHTVectors(t *testing.T) {
	const token = "WXZzciBwYmFmdmZnZiBqdmd1IGp2eXFhcmZm"
	cb := make([]byte, 32)
	for i := range cb {
		cb[i] = byte(i)
	}
	for _, tt := range []struct {
		name      string
		cb        []byte
		initiator string
		responder string
	}{
		{"NONE", nil, "9097787461a184e0fa84ec00c1381190b6c4d16a8ec4453c7b2ac5e7fcf935ed", "4e513409631474863b986c9f3e8c1e27ca29d1d7ab9ed4097e7afd6007bf9c62"},
		{"with cb-data", cb, "0c5745576afeea711960549186a31a65c9f328205ee38b66825b3d4c872b395c", "1260579b34d55aeba4e43062a412db609a0a7153abd218b0f148445c4e83529f"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := hex.EncodeToString(htInitiator(token, tt.cb)); got != tt.initiator {
				t.Errorf("initiator = %s, want %s", got, tt.initiator)
			}
			if got := hex.EncodeToString(htResponder(token, tt.cb)); got != tt.responder {
				t.Errorf("responder = %s, want %s", got, tt.responder)
			}
		})
	}
}

func TestParseHT(t *testing.T) {
	h := bytes.Repeat([]byte{7}, 32)
	for _, tt := range []struct {
		name string
		msg  []byte
		user string
		ok   bool
	}{
		{"ok", append([]byte("alice\x00"), h...), "alice", true},
		{"NUL inside the hash", append([]byte("alice\x00"), append([]byte{0}, h[1:]...)...), "alice", true},
		{"no NUL", append([]byte("alice"), h...), "", false},
		{"empty identity", append([]byte("\x00"), h...), "", false},
		{"short hash", []byte("alice\x00abc"), "", false},
		{"long hash", append([]byte("alice\x00"), append(h, 1)...), "", false},
		{"not UTF-8", append([]byte("al\xffice\x00"), h...), "", false},
		{"identity too long", append(append(bytes.Repeat([]byte("a"), 256), 0), h...), "", false},
		{"empty", nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			user, hashed, ok := parseHT(tt.msg)
			if ok != tt.ok || user != tt.user || ok && !bytes.Equal(hashed, h) && tt.name == "ok" {
				t.Errorf("parseHT = %q %x %v, want %q ok=%v", user, hashed, ok, tt.user, tt.ok)
			}
		})
	}
}

// FuzzParseHT: any initiator message is taken apart without a panic, and
// what it accepts has the shape the draft gives.
func FuzzParseHT(f *testing.F) {
	f.Add(append([]byte("alice\x00"), bytes.Repeat([]byte{1}, 32)...))
	f.Add([]byte("alice"))
	f.Add([]byte("\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		user, hashed, ok := parseHT(msg)
		if !ok {
			return
		}
		if user == "" || len(user) > maxAuthcid || len(hashed) != 32 || bytes.IndexByte([]byte(user), 0) >= 0 {
			t.Fatalf("accepted %q %x", user, hashed)
		}
	})
}
