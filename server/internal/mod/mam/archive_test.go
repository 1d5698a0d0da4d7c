package mam

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"path/filepath"
	"testing"

	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
	"hearth/storage"
)

// newArchiveModule is the archive on real storage, in a temp dir, with
// the accounts alice and bob.
func newArchiveModule(t testing.TB) *Module {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range []string{"alice", "bob"} {
		if err := db.CreateUser(context.Background(), storage.User{Name: u}); err != nil {
			t.Fatal(err)
		}
	}
	return New(Deps{DB: db, Router: router.New(router.Config{Domain: "home.test"}), Domain: "home.test"})
}

// chat is an ordinary chat message between two local accounts, as the
// router hands it to Archive.
func chat(t testing.TB) *stanza.Stanza {
	t.Helper()
	st, e := stanza.Parse(parse(t, `<message xmlns='jabber:client' type='chat' id='m1' from='alice@home.test/phone' to='bob@home.test'><body>hello</body></message>`))
	if e != nil {
		t.Fatal(e)
	}
	return st
}

// TestArchiveRecipientCopy: the recipient's copy carries the stanza-id,
// the original is untouched, and changing one later in place (SetAttr,
// as code after routing may) never shows in the other.
func TestArchiveRecipientCopy(t *testing.T) {
	m := newArchiveModule(t)
	st := chat(t)
	before := st.El.String()
	out, d := m.Archive(t.Context(), st, true)
	if d == nil {
		t.Fatal("not archived")
	}
	<-d.Done()
	if f := d.Failed(); f != nil {
		t.Fatal(f)
	}
	if out == st || out.El == st.El {
		t.Fatal("the recipient's copy is the original")
	}
	if st.El.String() != before {
		t.Fatalf("original changed: %s", st.El)
	}
	ids := stanzaIDs(out.El, "bob@home.test")
	if len(ids) != 1 || len(ids[0]) != 22 {
		t.Fatalf("stanza-ids %v in %s", ids, out.El)
	}
	if _, _, ok := parseID(ids[0]); !ok {
		t.Fatalf("stanza-id %q does not parse", ids[0])
	}
	if out.From != st.From || out.To != st.To || out.ID != st.ID || out.Type != st.Type || out.Kind != st.Kind {
		t.Fatalf("copy's view differs: %+v", out)
	}

	// Routed elements are immutable (package stanza): the copy shares
	// the attributes. What is added to either side stays on that side.
	copyBefore := out.El.String()
	st.El.SetAttr("xml:lang", "en")
	st.El.Append(stanza.New("x", "urn:x"))
	if out.El.String() != copyBefore {
		t.Fatalf("an addition to the original shows in the copy: %s", out.El)
	}
	out.El.SetAttr("x-other", "1")
	out.El.Append(stanza.New("y", "urn:y"))
	if got := st.El.Attr("x-other"); got != "" {
		t.Fatalf("an attribute added to the copy shows in the original: %q", got)
	}
	if st.El.Child("y", "urn:y") != nil {
		t.Fatal("a child appended to the copy shows in the original")
	}
}

// BenchmarkArchive is the per-message cost of archiving a chat message
// between two local accounts: both archives, the stored XML, and the
// recipient's copy with its stanza-id. It waits for the group commit now
// and then so that the queue stays short.
func BenchmarkArchive(b *testing.B) {
	m := newArchiveModule(b)
	st := chat(b)
	ctx := context.Background()
	var last router.Durable
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, last = m.Archive(ctx, st, true)
		if i%512 == 511 {
			<-last.Done()
		}
	}
	b.StopTimer()
	<-last.Done()
}

// TestPublicIDForm: the ids keep their form (22 characters of unpadded
// URL-safe base64 of the id and tag, big-endian) and read back.
func TestPublicIDForm(t *testing.T) {
	for _, c := range [][2]int64{{1, 0}, {1 << 40, -1}, {0x7fffffffffffffff, 0x123456789abcdef}} {
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(c[0]))
		binary.BigEndian.PutUint64(b[8:], uint64(c[1]))
		s := publicID(c[0], c[1])
		if want := base64.RawURLEncoding.EncodeToString(b[:]); s != want {
			t.Errorf("publicID(%d, %d) = %q, want %q", c[0], c[1], s, want)
		}
		if id, tag, ok := parseID(s); !ok || id != c[0] || tag != c[1] {
			t.Errorf("parseID(%q) = %d, %d, %v", s, id, tag, ok)
		}
	}
}
