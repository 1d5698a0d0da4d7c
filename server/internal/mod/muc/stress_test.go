package muc

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"hearth/server/internal/mod/modtest"
)

// TestConcurrent: people joining, talking, changing nicks, leaving,
// sessions ending, admins banning and the admin API, all at once on a few
// rooms: nothing deadlocks (the test would time out) and the race
// detector sees nothing (go test -race).
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	var users []string
	for i := range 12 {
		users = append(users, fmt.Sprintf("u%d", i))
	}
	e := newEnv(t, modtest.DB(t, users...), &fakeArchive{}, users...)
	for _, room := range []string{"a", "b"} {
		e.create("u0", room, "Owner", "muc#roomconfig_persistentroom", "1", "muc#roomconfig_enablearchiving", "1")
	}
	var wg sync.WaitGroup
	for i, u := range users[1:] {
		wg.Go(func() {
			for n := range 30 {
				room := []string{"a", "b", "c"}[(i+n)%3]
				e.send(u, fmt.Sprintf(`<presence to='%s@conference.example.org/n%d'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room, i))
				e.send(u, fmt.Sprintf(`<message to='%s@conference.example.org' type='groupchat' id='m%d'><body>%d</body></message>`, room, n, n))
				e.send(u, fmt.Sprintf(`<message to='%s@conference.example.org/n%d' type='chat'><body>pm</body></message>`, room, (i+1)%11))
				if n%5 == 0 {
					e.send(u, fmt.Sprintf(`<presence to='%s@conference.example.org/x%d'/>`, room, i))
				}
				if n%7 == 0 {
					e.send("u0", fmt.Sprintf(`<iq type='set' id='k' to='%s@conference.example.org'><query xmlns='http://jabber.org/protocol/muc#admin'><item nick='n%d' role='none'/></query></iq>`, room, i))
				}
				if n%3 == 0 {
					e.send(u, fmt.Sprintf(`<presence to='%s@conference.example.org/n%d' type='unavailable'/>`, room, i))
				}
				e.conns[u].Take()
			}
		})
	}
	wg.Go(func() {
		for range 30 {
			e.m.Rooms()
			_, _ = e.m.Occupants("a")
			_ = e.m.SetAffiliation(ctx, "b", "u5@example.org", "member", "")
			_ = e.m.SetAffiliation(ctx, "b", "u5@example.org", "none", "")
			_ = e.m.EnsureRoom(ctx, "d", RoomConfig{Name: "D", Persistent: true})
			e.conns["u0"].Take()
		}
	})
	wg.Go(func() {
		for _, s := range e.r.All() {
			e.m.SessionEnded(ctx, s)
		}
	})
	wg.Wait()
	if len(e.m.Rooms()) < 3 {
		t.Errorf("rooms: %+v", e.m.Rooms())
	}
}
