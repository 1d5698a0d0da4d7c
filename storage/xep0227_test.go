package storage

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
)

func movedAccount(t *testing.T, name string) Account {
	t.Helper()
	c1, _, err := NewCredentials("violet-window-pw")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1700000000, 0).UTC()
	return Account{
		User: User{Name: name, SHA1: c1, Created: at},
		Roster: []RosterItem{
			{Contact: "a@h.test", Name: "A", Subscription: "both", Groups: []string{"x", "y"}},
			{Contact: "b@other.test", Subscription: "to", Ask: true},
		},
		Pending: []Pending{{Contact: "c@h.test", Stanza: []byte(`<presence xmlns="jabber:client" from="c@h.test" type="subscribe"/>`), Received: at}},
		VCard:   []byte(`<vCard xmlns="vcard-temp"><FN>J</FN></vCard>`),
		Private: map[string][]byte{"prefs urn:x": []byte(`<prefs xmlns="urn:x"/>`)},
		Offline: []Offline{{From: "a@h.test/r", Stanza: []byte(`<message xmlns="jabber:client"><body>hi</body></message>`), Stored: at}},
		PEP: []PEPNodeItems{{
			Node:  PubsubNode{Node: "n", Access: "presence", MaxItems: 2, Persist: true, SendLast: "on_sub", NotifyRetract: true, DeliverPayloads: true, PublishModel: "publishers"},
			Items: []PubsubItem{{ID: "1", Publisher: name + "@h.test", Payload: []byte(`<p xmlns="urn:p">1</p>`), Published: at}, {ID: "2", Publisher: name + "@h.test", Payload: []byte(`<p xmlns="urn:p">2</p>`), Published: at}, {ID: "3", Publisher: name + "@h.test", Payload: []byte(`<p xmlns="urn:p">3</p>`), Published: at}},
		}},
	}
}

// TestImportExportAccount: what ImportAccount stores, ExportAccount gives
// back; a taken name is refused unless replace; a PEP node keeps its
// max_items.
func TestImportExportAccount(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	a := movedAccount(t, "juliet")
	if err := db.ImportAccount(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	got, err := db.ExportAccount(ctx, "juliet")
	if err != nil {
		t.Fatal(err)
	}
	want := a
	want.PEP = []PEPNodeItems{{Node: a.PEP[0].Node, Items: a.PEP[0].Items[1:]}} // max_items 2
	want.Offline = []Offline{{ID: got.Offline[0].ID, From: a.Offline[0].From, Stanza: a.Offline[0].Stanza, Stored: a.Offline[0].Stored}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("exported\n%+v\nwant\n%+v", got, want)
	}
	if _, ver, _ := db.Roster(ctx, "juliet"); ver == 0 {
		t.Error("the imported roster has version 0: clients that cached one would not refetch")
	}
	if !got.User.SHA1.Verify("violet-window-pw", sha1.New) {
		t.Error("the SHA-1 keys do not verify")
	}

	if err := db.ImportAccount(ctx, movedAccount(t, "juliet"), false); !errors.Is(err, ErrExists) {
		t.Errorf("import over an existing account: %v, want ErrExists", err)
	}
	small := Account{User: User{Name: "juliet", SHA1: a.User.SHA1}, Roster: []RosterItem{{Contact: "z@h.test"}}}
	if err := db.ImportAccount(ctx, small, true); err != nil {
		t.Fatal(err)
	}
	got, err = db.ExportAccount(ctx, "juliet")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Roster) != 1 || got.Roster[0].Contact != "z@h.test" || got.VCard != nil || len(got.Offline) != 0 || len(got.PEP) != 0 || len(got.Pending) != 0 {
		t.Errorf("replaced account kept old data: %+v", got)
	}
	if _, err := db.ExportAccount(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("export of no account: %v", err)
	}
}

// TestImportAccountAllOrNothing: an account that fails halfway (a
// contact twice) leaves nothing behind, and writes in the same group
// commit are not harmed.
func TestImportAccountAllOrNothing(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	addUser(t, db, "romeo")
	bad := movedAccount(t, "juliet")
	bad.Roster = append(bad.Roster, bad.Roster[0])
	done := make(chan error, 1)
	go func() { _, err := db.StoreOffline(ctx, "romeo", "x@h.test", []byte(`<message/>`), 0); done <- err }()
	if err := db.ImportAccount(ctx, bad, false); err == nil {
		t.Fatal("an account with a contact twice was imported")
	}
	if err := <-done; err != nil {
		t.Errorf("a write beside the failed import: %v", err)
	}
	if ok, _ := db.UserExists(ctx, "juliet"); ok {
		t.Error("the failed import left the account")
	}
	// Replacing with a bad account keeps the old one whole.
	if err := db.ImportAccount(ctx, movedAccount(t, "juliet"), false); err != nil {
		t.Fatal(err)
	}
	if err := db.ImportAccount(ctx, bad, true); err == nil {
		t.Fatal("a bad replacement was imported")
	}
	got, err := db.ExportAccount(ctx, "juliet")
	if err != nil || len(got.Roster) != 2 || got.VCard == nil {
		t.Errorf("the old account after a failed replacement: %+v, %v", got, err)
	}
}

// TestFillCredentials: an account with SHA-1 keys only gets SHA-256 ones;
// keys it has are kept, and so are its FAST tokens.
func TestFillCredentials(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	a := Account{User: movedAccount(t, "juliet").User}
	if err := db.ImportAccount(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	c1, c256, err := NewCredentials("violet-window-pw")
	if err != nil {
		t.Fatal(err)
	}
	added, err := db.FillCredentials(ctx, "juliet", c1, c256)
	if err != nil || !added {
		t.Fatalf("fill: %v, %v", added, err)
	}
	u, err := db.User(ctx, "juliet")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.SHA1, a.User.SHA1) || !reflect.DeepEqual(u.SHA256, c256) || !u.SHA256.Verify("violet-window-pw", sha256.New) {
		t.Errorf("after fill: %+v", u)
	}
	if added, err := db.FillCredentials(ctx, "juliet", c1, c256); err != nil || added {
		t.Errorf("second fill: %v, %v; want nothing added", added, err)
	}
}

// BenchmarkImportAccount: one account with 100 contacts, a vCard and 20
// offline messages per import (a durable group commit each).
func BenchmarkImportAccount(b *testing.B) {
	db := newDB(b)
	ctx := context.Background()
	c := Credentials{Salt: []byte("salt"), Iters: 1, StoredKey: []byte("s"), ServerKey: []byte("k")}
	a := Account{User: User{SHA1: c, SHA256: c}, VCard: []byte(`<vCard xmlns="vcard-temp"><FN>J</FN></vCard>`)}
	for i := range 100 {
		a.Roster = append(a.Roster, RosterItem{Contact: "c" + strconv.Itoa(i) + "@h.test", Subscription: "both", Groups: []string{"g"}})
	}
	for range 20 {
		a.Offline = append(a.Offline, Offline{From: "c0@h.test", Stanza: []byte(`<message xmlns="jabber:client"><body>hello there</body></message>`)})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.User.Name = "u" + strconv.Itoa(i)
		if err := db.ImportAccount(ctx, a, false); err != nil {
			b.Fatal(err)
		}
	}
}
