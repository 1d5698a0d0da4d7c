package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPEP(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	addUser(t, db, "alice", "bob")
	cfg := PubsubNode{Node: "urn:xmpp:avatar:metadata", Access: "presence", MaxItems: 2, Persist: true,
		SendLast: "on_sub_and_presence", NotifyRetract: true, NotifyDelete: true, DeliverPayloads: true, PublishModel: "publishers"}
	pub := func(id, payload string) {
		t.Helper()
		if err := db.PublishPEP(ctx, "alice", cfg, PubsubItem{ID: id, Publisher: "alice@example.org", Payload: []byte(payload), Published: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(max int, want ...string) []PubsubItem {
		t.Helper()
		its, err := db.PEPItems(ctx, "alice", cfg.Node, max, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range its {
			got = append(got, it.ID)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("items (max %d) = %v, want %v", max, got, want)
		}
		return its
	}
	pub("a", "<x/>")
	pub("b", "<y/>")
	pub("c", "<z/>") // max_items 2: a goes
	ids(0, "b", "c")
	pub("b", "<y2/>") // republished: last
	its := ids(0, "c", "b")
	if string(its[1].Payload) != "<y2/>" {
		t.Errorf("republished payload = %s", its[1].Payload)
	}
	ids(1, "b")
	if its, _ := db.PEPItems(ctx, "alice", cfg.Node, 0, []string{"c", "nope"}); len(its) != 1 || its[0].ID != "c" {
		t.Errorf("by id: %+v", its)
	}
	if n, b, err := db.PEPUsage(ctx, "alice"); err != nil || n != 1 || b != int64(len("<z/><y2/>")) {
		t.Errorf("usage = %d %d %v", n, b, err)
	}
	// The existing node's configuration stays when a publish names another.
	other := cfg
	other.Access = "open"
	if err := db.PublishPEP(ctx, "alice", other, PubsubItem{ID: "d", Publisher: "x", Payload: []byte("<d/>"), Published: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PEPNode(ctx, "alice", cfg.Node); err != nil || n != cfg {
		t.Errorf("node = %+v, %v", n, err)
	}
	// Configure to one item, not persisted.
	cfg.Persist = false
	if err := db.ConfigurePEPNode(ctx, "alice", cfg); err != nil {
		t.Fatal(err)
	}
	ids(0, "d")
	if err := db.RetractPEPItem(ctx, "alice", cfg.Node, "d"); err != nil {
		t.Fatal(err)
	}
	if err := db.RetractPEPItem(ctx, "alice", cfg.Node, "d"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second retract: %v", err)
	}
	if err := db.CreatePEPNode(ctx, "alice", cfg); !errors.Is(err, ErrExists) {
		t.Errorf("create existing: %v", err)
	}
	if err := db.CreatePEPNode(ctx, "nobody", cfg); !errors.Is(err, ErrNotFound) {
		t.Errorf("create for nobody: %v", err)
	}
	if err := db.PublishPEP(ctx, "nobody", cfg, PubsubItem{ID: "x", Published: time.Now()}); !errors.Is(err, ErrNotFound) {
		t.Errorf("publish for nobody: %v", err)
	}
	max := PubsubNode{Node: "urn:xmpp:bookmarks:1", Access: "whitelist", Persist: true, SendLast: "never"}
	for _, id := range []string{"r1", "r2", "r3"} {
		if err := db.PublishPEP(ctx, "alice", max, PubsubItem{ID: id, Publisher: "x", Payload: []byte("<c/>"), Published: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if its, _ := db.PEPItems(ctx, "alice", max.Node, 0, nil); len(its) != 3 {
		t.Errorf("max_items max kept %d items", len(its))
	}
	if err := db.PurgePEPNode(ctx, "alice", max.Node); err != nil {
		t.Fatal(err)
	}
	if its, _ := db.PEPItems(ctx, "alice", max.Node, 0, nil); len(its) != 0 {
		t.Errorf("purge left %d items", len(its))
	}
	if err := db.DeletePEPNode(ctx, "alice", cfg.Node); err != nil {
		t.Fatal(err)
	}
	if err := db.DeletePEPNode(ctx, "alice", cfg.Node); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if ns, _ := db.PEPNodes(ctx, "alice"); len(ns) != 1 || ns[0].Node != max.Node {
		t.Errorf("nodes = %+v", ns)
	}
	// Deleting the account deletes its nodes.
	if err := db.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	addUser(t, db, "alice")
	if ns, _ := db.PEPNodes(ctx, "alice"); len(ns) != 0 {
		t.Errorf("a new alice has nodes %+v", ns)
	}
}
