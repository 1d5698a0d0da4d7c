package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// A model of the archive with the semantics of schema 6 (one row per
// message per archive, SQL filters), against which the log and index are
// checked after random writes, expiries, account deletions and, in a room's
// archive, tombstones and whole deletes.

type modelPlace struct {
	user, with, res string
	tag             int64
}

type archiveModel struct {
	msgs  map[int64][]modelPlace
	users map[string]bool
}

func (m *archiveModel) rows(q ArchiveQuery) []int64 {
	var out []int64
	for id, ps := range m.msgs {
		for _, p := range ps {
			if p.user != q.User {
				continue
			}
			if q.With != "" && p.with != q.With {
				continue
			}
			if q.With != "" && q.Res != "" && p.res != q.Res {
				continue
			}
			if q.After > 0 && id <= q.After || q.Before > 0 && id >= q.Before {
				continue
			}
			if len(q.IDs) > 0 && !slices.Contains(q.IDs, id) {
				continue
			}
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func (m *archiveModel) page(q ArchiveQuery) []int64 {
	all := m.rows(q)
	n := min(max(q.Max, 0), len(all))
	if q.Last {
		return all[len(all)-n:]
	}
	return all[:n]
}

func (m *archiveModel) expire(before int64, n int) {
	var below []int64
	for id := range m.msgs {
		if id < before {
			below = append(below, id)
		}
	}
	slices.Sort(below)
	for _, id := range below[:min(n, len(below))] {
		delete(m.msgs, id)
	}
}

func (m *archiveModel) deleteUser(u string) {
	for id, ps := range m.msgs {
		ps = slices.DeleteFunc(ps, func(p modelPlace) bool { return p.user == u })
		if len(ps) == 0 {
			delete(m.msgs, id)
		} else {
			m.msgs[id] = ps
		}
	}
	delete(m.users, u)
}

func TestArchiveModel(t *testing.T) {
	seeds := uint64(6)
	if raceOn {
		seeds = 1 // under the race detector each seed takes 12 s
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { archiveModelRun(t, seed) })
	}
}

func archiveModelRun(t *testing.T, seed uint64) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 7))
	db := newDB(t)
	locals := []string{"alice", "bob", "carol"}
	remotes := []string{"x@remote.test", "y@remote.test"}
	addUser(t, db, locals...)
	// A room's archive: one place per message, with its occupants.
	const room = "den@conference.home.test"
	owners := append(slices.Clone(locals), room)
	occupants := []string{room + "/ann", room + "/ben"}
	m := &archiveModel{msgs: map[int64][]modelPlace{}, users: map[string]bool{"alice": true, "bob": true, "carol": true, room: true}}
	tombs := map[int64]bool{} // room messages replaced by a tombstone
	ress := []string{"", "a", "b"}
	tag := int64(0)
	allIDs := func() []int64 {
		var out []int64
		for id := range m.msgs {
			out = append(out, id)
		}
		slices.Sort(out)
		return out
	}
	type step struct {
		q      *Queued
		places []modelPlace
		id     *int64
		expire func()
	}
	for round := 0; round < 60; round++ {
		switch r := rng.IntN(10); {
		case r < 6: // a burst of writes, with expiries among them
			var steps []step
			k := 1 + rng.IntN(40)
			for i := 0; i < k; i++ {
				if rng.IntN(15) == 0 {
					ids := allIDs()
					if len(ids) > 0 {
						before := ids[rng.IntN(len(ids))] + int64(rng.IntN(2))
						n := 1 + rng.IntN(4)
						steps = append(steps, step{q: db.QueueExpireArchive(before, n), expire: func() { m.expire(before, n) }})
					}
					continue
				}
				if rng.IntN(5) == 0 {
					tag++
					rows := []ArchiveRow{archiveRow(room, occupants[rng.IntN(2)], "", tag)}
					q := db.QueueArchive(rows, nil)
					id := rows[0].ID
					steps = append(steps, step{q: q, places: []modelPlace{{room, rows[0].With, "", tag}}, id: &id})
					continue
				}
				to := locals[rng.IntN(len(locals))]
				if rng.IntN(20) == 0 {
					to = "zed"
				}
				from := append(slices.Clone(locals), remotes...)[rng.IntN(len(locals)+len(remotes))]
				if from == to {
					from = remotes[0]
				}
				fromJID := from
				if !slices.Contains(remotes, from) {
					fromJID = from + "@home.test"
				}
				tag++
				rows := []ArchiveRow{archiveRow(to, fromJID, ress[rng.IntN(3)], tag)}
				if !slices.Contains(remotes, from) {
					tag++
					rows = append(rows, archiveRow(from, to+"@home.test", ress[rng.IntN(3)], tag))
				}
				var places []modelPlace
				for _, r := range rows {
					places = append(places, modelPlace{r.User, r.With, r.Res, r.Tag})
				}
				q := db.QueueArchive(rows, nil)
				id := rows[0].ID
				steps = append(steps, step{q: q, places: places, id: &id})
			}
			for _, s := range steps {
				err := s.q.Wait()
				if s.expire != nil {
					if err != nil {
						t.Fatal(err)
					}
					s.expire()
					continue
				}
				ok := true
				for _, p := range s.places {
					ok = ok && m.users[p.user]
				}
				switch {
				case ok && err == nil:
					m.msgs[*s.id] = s.places
				case !ok && errors.Is(err, ErrNotFound):
				default:
					t.Fatalf("write %v: %v", s.places, err)
				}
			}
		case r < 7: // retention
			ids := allIDs()
			if len(ids) == 0 {
				continue
			}
			before := ids[rng.IntN(len(ids))] + int64(rng.IntN(2))
			n := 1 + rng.IntN(10)
			if err := db.QueueExpireArchive(before, n).Wait(); err != nil {
				t.Fatal(err)
			}
			m.expire(before, n)
		case r < 8: // an account goes, and comes back; or the room's archive goes
			u := owners[rng.IntN(len(owners))]
			if u == room {
				if err := db.DeleteArchive(ctx, room); err != nil {
					t.Fatal(err)
				}
				m.deleteUser(u)
				m.users[u] = true
				continue
			}
			if err := db.DeleteUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			m.deleteUser(u)
			addUser(t, db, u)
			m.users[u] = true
		default: // a room message retracted: its stanza replaced, in place
			var in []int64
			for id, ps := range m.msgs {
				if ps[0].user == room {
					in = append(in, id)
				}
			}
			slices.Sort(in)
			if len(in) == 0 {
				continue
			}
			id := in[rng.IntN(len(in))]
			if err := db.QueueReplaceArchived(room, id, m.msgs[id][0].tag, []byte("<tomb/>")).Wait(); err != nil {
				t.Fatal(err)
			}
			tombs[id] = true
		}
		// Queries.
		ids := allIDs()
		bound := func() int64 {
			if len(ids) == 0 || rng.IntN(3) == 0 {
				return 0
			}
			return ids[rng.IntN(len(ids))] + int64(rng.IntN(3)) - 1
		}
		for i := 0; i < 30; i++ {
			q := ArchiveQuery{User: owners[rng.IntN(len(owners))], After: bound(), Before: bound(), Last: rng.IntN(2) == 0, Max: rng.IntN(12)}
			if rng.IntN(2) == 0 {
				peers := append(slices.Clone(remotes), "alice@home.test", "bob@home.test", "carol@home.test", occupants[0], occupants[1])
				q.With = peers[rng.IntN(len(peers))]
				if rng.IntN(2) == 0 {
					q.Res = ress[rng.IntN(3)]
				}
			}
			if rng.IntN(5) == 0 && len(ids) > 0 {
				for j := rng.IntN(6); j >= 0; j-- {
					q.IDs = append(q.IDs, ids[rng.IntN(len(ids))])
				}
			}
			got, err := db.ArchivePage(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := m.page(q); !slices.Equal(ids2(got), want) {
				t.Fatalf("round %d: %+v: got %v, want %v", round, q, ids2(got), want)
			}
			for _, r := range got {
				var place modelPlace
				for _, p := range m.msgs[r.ID] {
					if p.user == q.User {
						place = p
					}
				}
				if r.Tag != place.tag || r.With != place.with || r.Res != place.res || r.User != q.User {
					t.Fatalf("row %+v, want %+v", r, place)
				}
				if tomb := string(r.Stanza) == "<tomb/>"; tomb != tombs[r.ID] {
					t.Fatalf("row %d: stanza %s, tombstone %v", r.ID, r.Stanza, tombs[r.ID])
				}
			}
			limit := 1 + rng.IntN(20)
			n, err := db.CountArchive(ctx, q, limit)
			if err != nil {
				t.Fatal(err)
			}
			if want := min(len(m.rows(q)), limit); n != want {
				t.Fatalf("round %d: count %+v up to %d: got %d, want %d", round, q, limit, n, want)
			}
		}
	}
	var nr, mx, tot int
	db.r.QueryRow(`SELECT count(*), max(n), sum(n) FROM archive_index`).Scan(&nr, &mx, &tot)
	var perList int
	db.r.QueryRow(`SELECT max(c) FROM (SELECT count(*) c FROM archive_index GROUP BY username, peer)`).Scan(&perList)
	t.Logf("max runs per list %d", perList)
	t.Logf("runs %d max n %d ids %d msgs %d", nr, mx, tot, len(m.msgs))
	// The log holds exactly the model's messages, in blocks or not.
	entries, blocks := logAll(t, db)
	var logged []int64
	for _, e := range entries {
		logged = append(logged, e.id)
	}
	if want := allIDs(); !slices.Equal(logged, want) && !(len(logged) == 0 && len(want) == 0) {
		t.Errorf("the log holds %d messages %v, want %d %v", len(logged), logged, len(want), want)
	}
	t.Logf("log: %d messages, %d blocks", len(entries), blocks)
	// At the end every list of the index holds exactly the model's ids.
	for _, u := range owners {
		for _, with := range append(slices.Clone(remotes), "", "alice@home.test", "bob@home.test", "carol@home.test", occupants[0], occupants[1]) {
			tx, err := db.r.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			it := runs{tx: tx, ctx: ctx, list: archiveList{u, with}}
			got, err := it.next(1 << 20)
			tx.Rollback()
			if err != nil {
				t.Fatal(err)
			}
			want := m.rows(ArchiveQuery{User: u, With: with})
			if !slices.Equal(slices.Clone(got), want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("index list (%s, %q): %v, want %v", u, with, got, want)
			}
		}
	}
}

func ids2(rows []ArchiveRow) []int64 {
	out := []int64{}
	for _, r := range rows {
		out = append(out, r.ID)
	}
	return out
}
