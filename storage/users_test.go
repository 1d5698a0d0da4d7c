package storage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// The exchanges in RFC 5802 5 (SCRAM-SHA-1) and RFC 7677 3 (SCRAM-SHA-256),
// checked as a server checks them: with only StoredKey and ServerKey.
func TestCredentialsRFCVectors(t *testing.T) {
	for _, tt := range []struct {
		name      string
		h         func() hash.Hash
		salt      string
		auth      string // AuthMessage
		proof     string // ClientProof
		signature string // ServerSignature
	}{
		{
			name: "RFC 5802", h: sha1.New, salt: "QSXCR+Q6sek8bf92",
			auth: "n=user,r=fyko+d2lbbFgONRv9qkxdawL," +
				"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096," +
				"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
			proof:     "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			signature: "rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		{
			name: "RFC 7677", h: sha256.New, salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
			auth: "n=user,r=rOprNGfwEbeRWgbNEkqO," +
				"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
				"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			proof:     "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			signature: "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			salt := b64(t, tt.salt)
			stored, server, err := keys("pencil", salt, 4096, tt.h)
			if err != nil {
				t.Fatal(err)
			}
			mac := func(key []byte, s string) []byte {
				m := hmac.New(tt.h, key)
				m.Write([]byte(s))
				return m.Sum(nil)
			}
			// ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) = StoredKey.
			client := b64(t, tt.proof)
			for i, b := range mac(stored, tt.auth) {
				client[i] ^= b
			}
			h := tt.h()
			h.Write(client)
			if !bytes.Equal(h.Sum(nil), stored) {
				t.Error("client proof does not verify against StoredKey")
			}
			if got := mac(server, tt.auth); !bytes.Equal(got, b64(t, tt.signature)) {
				t.Errorf("ServerSignature = %s, want %s", base64.StdEncoding.EncodeToString(got), tt.signature)
			}
			c := Credentials{Salt: salt, Iters: 4096, StoredKey: stored, ServerKey: server}
			if !c.Verify("pencil", tt.h) || c.Verify("pencil ", tt.h) {
				t.Error("Verify disagrees with the RFC")
			}
		})
	}
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewCredentials(t *testing.T) {
	s1, s256, err := NewCredentials("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		c    Credentials
		h    func() hash.Hash
		size int
	}{
		{"SHA-1", s1, sha1.New, sha1.Size},
		{"SHA-256", s256, sha256.New, sha256.Size},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.c.Salt) != 16 || tt.c.Iters != 4096 || len(tt.c.StoredKey) != tt.size || len(tt.c.ServerKey) != tt.size {
				t.Errorf("credentials %+v", tt.c)
			}
			for _, p := range []struct {
				password string
				want     bool
			}{
				{"correct horse", true},
				{"correct horse ", false},
				{"Correct horse", false},
				{"", false},
			} {
				if got := tt.c.Verify(p.password, tt.h); got != p.want {
					t.Errorf("Verify(%q) = %v", p.password, got)
				}
			}
		})
	}
	if bytes.Equal(s1.Salt, s256.Salt) {
		t.Error("both credentials share a salt")
	}
	again, _, err := NewCredentials("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again.Salt, s1.Salt) || bytes.Equal(again.StoredKey, s1.StoredKey) {
		t.Error("two derivations of one password share a salt")
	}
	if (Credentials{}).Verify("", sha1.New) {
		t.Error("zero credentials verify")
	}
	if s256.Verify("correct horse", sha1.New) {
		t.Error("SHA-256 credentials verify with SHA-1")
	}
}

func TestUsers(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	s1, s256, err := NewCredentials("pw")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	alice := User{Name: "alice", SHA1: s1, SHA256: s256, Created: created}

	for _, tt := range []struct {
		name    string
		u       User
		wantErr error
	}{
		{"new", alice, nil},
		{"zero credentials", User{Name: "carol"}, nil},
		{"taken", User{Name: "alice"}, ErrExists},
		{"empty name", User{}, errors.New("any")},
		{"new, later", User{Name: "bob", SHA1: s1, SHA256: s256}, nil},
	} {
		t.Run("create/"+tt.name, func(t *testing.T) {
			err := db.CreateUser(ctx, tt.u)
			if !matches(err, tt.wantErr) {
				t.Fatalf("CreateUser = %v, want %v", err, tt.wantErr)
			}
		})
	}

	got, err := db.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !sameUser(got, alice) || !got.Created.Equal(created) {
		t.Errorf("User = %+v, want %+v", got, alice)
	}
	if _, err := db.User(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User(nobody) = %v", err)
	}
	bob, err := db.User(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(bob.Created) > time.Minute || bob.Created.Location() != time.UTC {
		t.Errorf("default Created = %v, want now in UTC", bob.Created)
	}

	us, err := db.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range us {
		names = append(names, u.Name)
	}
	if !slices.Equal(names, []string{"alice", "bob", "carol"}) {
		t.Errorf("Users = %v", names)
	}

	n1, n256, err := NewCredentials("new password")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetCredentials(ctx, "alice", n1, n256); err != nil {
		t.Fatal(err)
	}
	if err := db.SetDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	got, err = db.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled || !got.SHA256.Verify("new password", sha256.New) || got.SHA1.Verify("pw", sha1.New) {
		t.Errorf("after change: %+v", got)
	}
	if err := db.SetDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.User(ctx, "alice"); got.Disabled {
		t.Error("still disabled")
	}

	if err := db.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.User(ctx, "alice"); !errors.Is(err, ErrNotFound) {
		t.Errorf("User after delete = %v", err)
	}
	if err := db.CreateUser(ctx, User{Name: "alice"}); err != nil {
		t.Errorf("re-create: %v", err)
	}
}

// matches reports whether err is want; any non-nil error matches a want
// that is not a sentinel of this package.
func matches(err, want error) bool {
	switch {
	case want == nil || err == nil:
		return err == want
	case errors.Is(want, ErrNotFound), errors.Is(want, ErrExists), errors.Is(want, ErrQuota):
		return errors.Is(err, want)
	}
	return true
}

func sameUser(a, b User) bool {
	same := func(x, y Credentials) bool {
		return bytes.Equal(x.Salt, y.Salt) && x.Iters == y.Iters &&
			bytes.Equal(x.StoredKey, y.StoredKey) && bytes.Equal(x.ServerKey, y.ServerKey)
	}
	return a.Name == b.Name && a.Disabled == b.Disabled && same(a.SHA1, b.SHA1) && same(a.SHA256, b.SHA256)
}

// Every method that names a missing user or row says ErrNotFound.
func TestNotFound(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice")
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"User", func() error { _, err := db.User(ctx, "nobody"); return err }},
		{"SetCredentials", func() error { return db.SetCredentials(ctx, "nobody", Credentials{}, Credentials{}) }},
		{"SetDisabled", func() error { return db.SetDisabled(ctx, "nobody", true) }},
		{"DeleteUser", func() error { return db.DeleteUser(ctx, "nobody") }},
		{"Roster", func() error { _, _, err := db.Roster(ctx, "nobody"); return err }},
		{"RosterVersion", func() error { _, err := db.RosterVersion(ctx, "nobody"); return err }},
		{"RosterItem", func() error { _, err := db.RosterItem(ctx, "alice", "x@example.org"); return err }},
		{"PutRosterItem", func() error {
			_, err := db.PutRosterItem(ctx, "nobody", RosterItem{Contact: "x@example.org"})
			return err
		}},
		{"DeleteRosterItem", func() error { _, err := db.DeleteRosterItem(ctx, "alice", "x@example.org"); return err }},
		{"AddPending", func() error { return db.AddPending(ctx, "nobody", "x@example.org", nil) }},
		{"StoreOffline", func() error { _, err := db.StoreOffline(ctx, "nobody", "x", nil, 0); return err }},
		{"StoreOffline quota", func() error { _, err := db.StoreOffline(ctx, "nobody", "x", nil, 10); return err }},
		{"VCard", func() error { _, err := db.VCard(ctx, "alice"); return err }},
		{"SetVCard", func() error { return db.SetVCard(ctx, "nobody", []byte("<vCard/>")) }},
		{"Private", func() error { _, err := db.Private(ctx, "alice", "a b"); return err }},
		{"SetPrivate", func() error { return db.SetPrivate(ctx, "nobody", "a b", []byte("<a/>")) }},
		{"Block", func() error { return db.Block(ctx, "nobody", []string{"x@example.org"}) }},
		{"SetLastActivity", func() error { return db.SetLastActivity(ctx, "nobody", time.Now(), "") }},
		{"LastActivity", func() error { _, _, err := db.LastActivity(ctx, "alice"); return err }},
		{"Setting", func() error { _, err := db.Setting(ctx, "no.such"); return err }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	}
}

// DeleteUser removes every row the user owns, in every table, and nothing
// of anyone else's.
func TestDeleteUserCascades(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	for _, u := range []string{"alice", "bob"} {
		steps := []error{
			db.AddPending(ctx, u, "p@example.org", []byte("<presence/>")),
			db.SetVCard(ctx, u, []byte("<vCard/>")),
			db.SetPrivate(ctx, u, "a b", []byte("<a/>")),
			db.Block(ctx, u, []string{"spam@example.org"}),
			db.SetLastActivity(ctx, u, time.Now(), "gone"),
			db.JoinFamilyCircle(ctx, u, "Family"),
			db.SetLinkLocal(ctx, u, true),
			db.CreateInvite(ctx, Invite{Token: "invite-of-" + u, Kind: InviteContact, Inviter: u, Expires: time.Now().Add(time.Hour), MaxUses: 1}),
			db.AddPush(ctx, u, Push{Service: "push.example.org", Node: "n", Resource: "phone", Created: time.Now()}, 0),
			db.AddFASTToken(ctx, FASTToken{User: u, Agent: "phone", Seed: []byte("seed"), Mechanism: "HT-SHA-256-NONE", Issued: time.Now(), Expires: time.Now().Add(time.Hour)}),
			db.PublishPEP(ctx, u, PubsubNode{Node: "urn:example:n", Access: "presence", MaxItems: 1, Persist: true, SendLast: "never"},
				PubsubItem{ID: "1", Publisher: u + "@example.org", Payload: []byte("<n/>"), Published: time.Now()}),
		}
		_, err := db.PutRosterItem(ctx, u, RosterItem{Contact: "c@example.org", Groups: []string{"g"}})
		steps = append(steps, err)
		_, err = db.StoreOffline(ctx, u, "c@example.org", []byte("<message/>"), 0)
		steps = append(steps, err)
		steps = append(steps, db.QueueArchive([]ArchiveRow{{User: u, Tag: 1, With: "c@example.org", Stanza: []byte("<message/>")}}, nil).Wait())
		steps = append(steps, db.SetArchivePrefs(ctx, u, ArchivePrefs{Default: "roster"}))
		if err := errors.Join(steps...); err != nil {
			t.Fatal(err)
		}
	}
	tables := userTables(t, db)
	if len(tables) < 7 {
		t.Fatalf("only %d tables reference users: %v", len(tables), tables)
	}
	// The index names accounts and rooms, so without a reference: DeleteUser
	// empties it itself.
	tables = append(tables, "archive_index")
	if err := db.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		t.Run(table, func(t *testing.T) {
			for _, tt := range []struct {
				user string
				want int
			}{{"alice", 0}, {"bob", 1}} {
				if table == "archive_index" && tt.want == 1 {
					tt.want = 2 // the whole archive and the one contact
				}
				var n int
				if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE username = ?`, tt.user).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != tt.want {
					t.Errorf("%d rows of %s, want %d", n, tt.user, tt.want)
				}
			}
		})
	}
	// The archive's log names its accounts without a reference.
	entries, _ := logAll(t, db)
	for _, e := range entries {
		if bytes.Contains(e.meta, []byte("alice")) {
			t.Errorf("archived message %d of alice left: %q", e.id, e.meta)
		}
	}
}

// userTables lists the tables with a foreign key to users, from the schema
// itself, so that a table added later is covered by the cascade test and
// checked to cascade.
func userTables(t *testing.T, db *DB) []string {
	t.Helper()
	ctx := t.Context()
	rows, err := db.r.QueryContext(ctx, `SELECT m.name, f."from", f.on_delete
		FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f
		WHERE m.type = 'table' AND f."table" = 'users' ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name, from, onDelete string
		if err := rows.Scan(&name, &from, &onDelete); err != nil {
			t.Fatal(err)
		}
		if from != "username" || onDelete != "CASCADE" {
			t.Errorf("table %s: foreign key on %s, ON DELETE %s; want username, CASCADE", name, from, onDelete)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return tables
}

// TestLabelRosterItem: labels change, the subscription state never does.
func TestLabelRosterItem(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateUser(ctx, User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	it, v1, err := db.LabelRosterItem(ctx, "alice", "bob@example.org", "Bob", []string{"Family"})
	if err != nil || it.Subscription != "none" || it.Ask || it.Approved {
		t.Fatalf("new item = %+v, %v", it, err)
	}
	if _, err := db.PutRosterItem(ctx, "alice", RosterItem{Contact: "bob@example.org", Name: "Bob", Subscription: "to", Ask: true, Approved: true}); err != nil {
		t.Fatal(err)
	}
	it, v2, err := db.LabelRosterItem(ctx, "alice", "bob@example.org", "Bobby", []string{"Friends", "Work"})
	if err != nil || it.Subscription != "to" || !it.Ask || !it.Approved || it.Name != "Bobby" || v2 <= v1 {
		t.Fatalf("relabelled item = %+v (ver %d after %d), %v", it, v2, v1, err)
	}
	stored, err := db.RosterItem(ctx, "alice", "bob@example.org")
	if err != nil || stored.Subscription != "to" || !stored.Ask || !stored.Approved || stored.Name != "Bobby" || !slices.Equal(stored.Groups, []string{"Friends", "Work"}) {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	if _, _, err := db.LabelRosterItem(ctx, "nobody", "bob@example.org", "", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestUserExists(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateUser(ctx, User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"alice": true, "bob": false, "": false} {
		if got, err := db.UserExists(ctx, name); err != nil || got != want {
			t.Errorf("UserExists(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
}
