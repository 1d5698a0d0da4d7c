package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPubsubService(t *testing.T) {
	ctx := t.Context()
	db := newDB(t)
	cfg := PubsubNode{Node: "news", Creator: "alice@example.org", Access: "open", MaxItems: 3, Persist: true,
		SendLast: "on_sub", NotifyRetract: true, NotifyDelete: true, DeliverPayloads: true, PublishModel: "publishers"}
	if err := db.CreateServiceNode(ctx, cfg, 2); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateServiceNode(ctx, cfg, 2); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	if n, err := db.ServiceNode(ctx, "news"); err != nil || n != cfg {
		t.Fatalf("node = %+v, %v", n, err)
	}
	if a, _ := db.ServiceAffiliation(ctx, "news", "alice@example.org"); a != "owner" {
		t.Fatalf("creator's affiliation %q", a)
	}
	if n, _ := db.ServiceNodeCount(ctx, "alice@example.org"); n != 1 {
		t.Fatalf("count %d", n)
	}
	// The bound is counted in the write: one more, then ErrQuota.
	other := cfg
	other.Node = "other"
	if err := db.CreateServiceNode(ctx, other, 2); err != nil {
		t.Fatal(err)
	}
	other.Node = "third"
	if err := db.CreateServiceNode(ctx, other, 2); !errors.Is(err, ErrQuota) {
		t.Fatalf("third node past a bound of 2: %v", err)
	}
	if err := db.CreateServiceNode(ctx, other, -1); err != nil {
		t.Fatalf("no bound: %v", err)
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if err := db.PublishService(ctx, "news", PubsubItem{ID: id, Publisher: "alice@example.org", Payload: []byte("<x/>"), Published: time.Now()}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PublishService(ctx, "nothing", PubsubItem{ID: "x", Payload: []byte("<x/>")}, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("publish to no node: %v", err)
	}
	// Someone else's item is not replaced with onlyOwn; one's own is.
	if err := db.PublishService(ctx, "news", PubsubItem{ID: "e", Publisher: "bob@example.org", Payload: []byte("<y/>"), Published: time.Now()}, true); !errors.Is(err, ErrNotYours) {
		t.Fatalf("bob replaces alice's item: %v", err)
	}
	if its, _ := db.ServiceItems(ctx, "news", 0, []string{"e"}); len(its) != 1 || its[0].Publisher != "alice@example.org" || string(its[0].Payload) != "<x/>" {
		t.Fatalf("alice's item after bob's try: %+v", its)
	}
	if err := db.PublishService(ctx, "news", PubsubItem{ID: "e", Publisher: "alice@example.org", Payload: []byte("<x/>"), Published: time.Now()}, true); err != nil {
		t.Fatalf("alice replaces her own item: %v", err)
	}
	ids := func(its []PubsubItem) string {
		var s []string
		for _, it := range its {
			s = append(s, it.ID)
		}
		return strings.Join(s, " ")
	}
	its, _ := db.ServiceItems(ctx, "news", 0, nil)
	if ids(its) != "c d e" {
		t.Fatalf("max_items 3 kept %q", ids(its))
	}
	page, count, index, err := db.ServiceItemsPage(ctx, "news", 2, "", "", false)
	if err != nil || ids(page) != "e d" || count != 3 || index != 0 {
		t.Fatalf("first page %q %d %d %v", ids(page), count, index, err)
	}
	page, _, index, err = db.ServiceItemsPage(ctx, "news", 2, "d", "", false)
	if err != nil || ids(page) != "c" || index != 2 {
		t.Fatalf("page after d %q %d %v", ids(page), index, err)
	}
	page, _, index, err = db.ServiceItemsPage(ctx, "news", 1, "", "c", true)
	if err != nil || ids(page) != "d" || index != 1 {
		t.Fatalf("page before c %q %d %v", ids(page), index, err)
	}
	page, _, index, err = db.ServiceItemsPage(ctx, "news", 2, "", "", true)
	if err != nil || ids(page) != "d c" || index != 1 {
		t.Fatalf("last page %q %d %v", ids(page), index, err)
	}
	if _, _, _, err := db.ServiceItemsPage(ctx, "news", 2, "zz", "", false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after an unknown item: %v", err)
	}
	// Subscriptions, with a bound.
	s, err := db.Subscribe(ctx, PubsubSubscription{Node: "news", JID: "bob@example.org", SubID: "s1", State: "subscribed", Deliver: true}, 2)
	if err != nil || s.SubID != "s1" {
		t.Fatalf("subscribe: %+v %v", s, err)
	}
	if _, err := db.Subscribe(ctx, PubsubSubscription{Node: "news", JID: "carol@example.org/x", SubID: "s2", State: "pending", Deliver: true}, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Subscribe(ctx, PubsubSubscription{Node: "news", JID: "dave@example.org", SubID: "s3", State: "subscribed"}, 2); !errors.Is(err, ErrFull) {
		t.Fatalf("third subscription: %v", err)
	}
	if s, err := db.Subscribe(ctx, PubsubSubscription{Node: "news", JID: "bob@example.org", SubID: "new", State: "subscribed"}, 2); err != nil || s.SubID != "s1" || s.Deliver {
		t.Fatalf("resubscribe: %+v %v", s, err)
	}
	// Asked again, an approved subscription stays as it is; a pending one
	// takes the new state; options change only with a form.
	if s, err := db.RequestSubscription(ctx, PubsubSubscription{Node: "news", JID: "bob@example.org", SubID: "again", State: "pending", Deliver: true}, false, 2); err != nil ||
		s.SubID != "s1" || s.State != "subscribed" || s.Deliver {
		t.Fatalf("subscription asked again: %+v %v", s, err)
	}
	if s, err := db.RequestSubscription(ctx, PubsubSubscription{Node: "news", JID: "bob@example.org", SubID: "again", State: "pending", Deliver: true}, true, 2); err != nil ||
		s.State != "subscribed" || !s.Deliver {
		t.Fatalf("subscription asked again with options: %+v %v", s, err)
	}
	if s, err := db.RequestSubscription(ctx, PubsubSubscription{Node: "news", JID: "carol@example.org/x", SubID: "again", State: "pending"}, false, 2); err != nil ||
		s.SubID != "s2" || s.State != "pending" || !s.Deliver {
		t.Fatalf("pending subscription asked again: %+v %v", s, err)
	}
	if subs, _ := db.SubscriptionsOf(ctx, "carol@example.org"); len(subs) != 1 || subs[0].State != "pending" {
		t.Fatalf("carol's subscriptions %+v", subs)
	}
	// An outcast loses its subscription.
	if err := db.SetServiceAffiliations(ctx, "news", []PubsubAffiliation{{JID: "carol@example.org", Affiliation: "outcast"}}); err != nil {
		t.Fatal(err)
	}
	if subs, _ := db.ServiceSubscriptions(ctx, "news"); len(subs) != 1 {
		t.Fatalf("subscriptions after outcast %+v", subs)
	}
	if err := db.Unsubscribe(ctx, "news", "bob@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := db.Unsubscribe(ctx, "news", "bob@example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second unsubscribe: %v", err)
	}
	if err := db.RetractServiceItem(ctx, "news", "e"); err != nil {
		t.Fatal(err)
	}
	if err := db.PurgeServiceNode(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	if its, _ := db.ServiceItems(ctx, "news", 0, nil); len(its) != 0 {
		t.Fatalf("purged node has %d items", len(its))
	}
	if err := db.ForgetServiceJID(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ServiceNode(ctx, "news"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("node of a forgotten creator: %v", err)
	}
	if as, _ := db.ServiceAffiliations(ctx, "", "carol@example.org"); len(as) != 0 {
		t.Fatalf("affiliations outlive the node: %+v", as)
	}
}
