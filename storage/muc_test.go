package storage

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMUCRooms(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	room := MUCRoom{JID: "tea@conference.hearth.test", Config: []byte(`{"name":"Tea"}`), Subject: "biscuits",
		SubjectBy: "alice", VCard: []byte("<vCard xmlns='vcard-temp'/>"), Secret: []byte{1, 2, 3},
		Affiliations: []MUCAffiliation{
			{JID: "alice@hearth.test", Affiliation: "owner"},
			{JID: "bob@hearth.test", Affiliation: "member", Nick: "bobby", Reason: "friend"},
		}}
	if err := db.SaveMUCRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	other := MUCRoom{JID: "coffee@conference.hearth.test", Config: []byte(`{}`), Secret: []byte{9}}
	if err := db.SaveMUCRoom(ctx, other); err != nil {
		t.Fatal(err)
	}
	// Affiliations are replaced whole.
	room.Affiliations = append(room.Affiliations[:1], MUCAffiliation{JID: "eve@hearth.test", Affiliation: "outcast"})
	room.Subject = "scones"
	if err := db.SaveMUCRoom(ctx, room); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, filepath.Join(dir, "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.MUCRooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].JID != other.JID || got[1].JID != room.JID {
		t.Fatalf("rooms: %+v", got)
	}
	r := got[1]
	if r.Subject != "scones" || r.SubjectBy != "alice" || string(r.Config) != `{"name":"Tea"}` ||
		string(r.VCard) != string(room.VCard) || !reflect.DeepEqual(r.Secret, room.Secret) || r.Created.IsZero() {
		t.Errorf("room read back: %+v", r)
	}
	if !reflect.DeepEqual(r.Affiliations, room.Affiliations) {
		t.Errorf("affiliations: %+v, want %+v", r.Affiliations, room.Affiliations)
	}
	if got[0].VCard != nil || len(got[0].Affiliations) != 0 {
		t.Errorf("room without vCard or members: %+v", got[0])
	}
	if err := db.DeleteMUCRoom(ctx, room.JID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteMUCRoom(ctx, "none@conference.hearth.test"); err != nil {
		t.Fatal(err)
	}
	got, err = db.MUCRooms(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("after delete: %+v, %v", got, err)
	}
	// A bad affiliation is refused and the save leaves nothing half done.
	bad := MUCRoom{JID: "x@conference.hearth.test", Config: []byte(`{}`), Secret: []byte{1},
		Affiliations: []MUCAffiliation{{JID: "a@hearth.test", Affiliation: "king"}}}
	if err := db.SaveMUCRoom(ctx, bad); err == nil {
		t.Fatal("affiliation king saved")
	}
	if got, _ := db.MUCRooms(ctx); len(got) != 1 {
		t.Errorf("half a save stayed: %+v", got)
	}
}
