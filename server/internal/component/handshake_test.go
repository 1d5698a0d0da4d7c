package component

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

const header = `<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='bot.example.org'>`

// decode reads one element after a component stream's header.
func decode(b []byte) (*stanza.Element, error) {
	d := stream.NewDecoder(io.MultiReader(strings.NewReader(header), bytes.NewReader(b)), stream.PreAuth)
	if _, err := d.Header(); err != nil {
		return nil, err
	}
	return d.Next()
}

func TestHandshake(t *testing.T) {
	id, secret := "3a9f0c", "s3cr3t-lamp"
	good := Digest(id, secret)
	for _, tc := range []struct {
		xml string
		ok  bool
	}{
		{`<handshake>` + good + `</handshake>`, true},
		{`<handshake> ` + strings.ToUpper(good) + "\n</handshake>", true},
		{`<handshake xmlns='jabber:component:accept'>` + good + `</handshake>`, true},
		{`<handshake>` + Digest(id, secret+"x") + `</handshake>`, false},
		{`<handshake>` + good[:39] + `</handshake>`, false},
		{`<handshake>` + good + `0</handshake>`, false},
		{`<handshake/>`, false},
		{`<handshake xmlns='urn:example'>` + good + `</handshake>`, false},
		{`<shake>` + good + `</shake>`, false},
		{`<handshake><x/>` + good + `</handshake>`, false},
		{`<handshake>` + strings.Repeat("zz", 20) + `</handshake>`, false},
	} {
		el, err := decode([]byte(tc.xml))
		if err != nil {
			t.Fatalf("%s: %v", tc.xml, err)
		}
		d, err := ParseHandshake(el)
		if got := err == nil && Verify(d, id, secret); got != tc.ok {
			t.Errorf("%s: accepted %v, want %v (%v)", tc.xml, got, tc.ok, err)
		}
	}
	// XEP-0114 3's example.
	if got := Digest("3BF96D32", "secret"); len(got) != 40 || got != strings.ToLower(got) {
		t.Errorf("Digest = %q", got)
	}
}

// FuzzHandshake: whatever follows the header, the parser never panics, and
// what it accepts is exactly 40 hex digits of the element's text.
func FuzzHandshake(f *testing.F) {
	for _, s := range []string{
		`<handshake>` + Digest("a", "b") + `</handshake>`,
		`<handshake/>`,
		`<handshake>  ` + strings.Repeat("A", 40) + `</handshake>`,
		`<handshake><![CDATA[` + Digest("x", "y") + `]]></handshake>`,
		`<handshake>&#x30;` + strings.Repeat("0", 39) + `</handshake>`,
		`<iq type='get'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		el, err := decode(b)
		if err != nil {
			return
		}
		d, err := ParseHandshake(el)
		if err != nil {
			return
		}
		if len(d) != 20 || hex.EncodeToString(d) != strings.ToLower(strings.TrimSpace(el.Content())) {
			t.Fatalf("accepted %x from %q", d, el.Content())
		}
		if Verify(d, "id", "secret") != (hex.EncodeToString(d) == Digest("id", "secret")) {
			t.Fatal("Verify disagrees with Digest")
		}
	})
}

func TestStore(t *testing.T) {
	s := StoreIn(t.TempDir())
	if all, err := s.List(); err != nil || len(all) != 0 {
		t.Fatalf("empty store: %v %v", all, err)
	}
	a, err := s.Add("bot.example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("bot.example.org", time.Now()); err != ErrExists {
		t.Fatalf("second add: %v", err)
	}
	b, _ := s.Add("gw.example.org", time.Now())
	if a.Secret == b.Secret || len(a.Secret) < 32 {
		t.Fatalf("secrets %q %q", a.Secret, b.Secret)
	}
	if e, err := s.Lookup("bot.example.org"); err != nil || e.Secret != a.Secret {
		t.Fatalf("Lookup: %+v %v", e, err)
	}
	if err := s.Remove("bot.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("bot.example.org"); err != ErrNotFound {
		t.Fatalf("second remove: %v", err)
	}
	if all, _ := s.List(); len(all) != 1 || all[0].Name != "gw.example.org" {
		t.Fatalf("List = %+v", all)
	}
}

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"bot": "bot.example.org", "Bot": "bot.example.org", "irc.example.net": "irc.example.net",
		"example.org": "", "": "", "a@b.org": "", "b.org/x": "",
	} {
		got, err := Name(in, "example.org")
		if (err == nil) != (want != "") || got != want {
			t.Errorf("Name(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
