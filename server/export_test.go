package server

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"

	"hearth/server/internal/router"
)

// A stand-in room engine with the shapes of mod/muc's (the contract's
// section 2), for the tests of what the server builds on it: it goes
// through adaptRooms as the real one does.

type fakeRoomInfo struct {
	JID, Name, Description, Subject                                         string
	Persistent, Public, MembersOnly, Moderated, PasswordProtected, Archived bool
	Occupants                                                               int
}

type fakeOccupant struct{ Nick, JID, Role, Affiliation string }

type fakeRoomConfig struct {
	Name, Description                                                  string
	Persistent, Public, MembersOnly, Moderated, Archived, NonAnonymous bool
	Password                                                           string
}

var errFakeNoRoom = errors.New("muc: no such room")

// FakeRooms is an in-memory room engine.
type FakeRooms struct {
	service string
	mu      sync.Mutex
	rooms   map[string]*fakeRoom
	// Ensured counts EnsureRoom calls.
	Ensured int
}

type fakeRoom struct {
	cfg       fakeRoomConfig
	affs      map[string]string
	occupants []fakeOccupant
	destroyed string // the reason
}

// NewFakeRooms returns an empty engine for conference.<domain>, and the
// module to give the server (Config.Modules).
func NewFakeRooms(domain string) (*FakeRooms, func(*router.Router) any) {
	f := &FakeRooms{service: "conference." + domain, rooms: map[string]*fakeRoom{}}
	return f, func(*router.Router) any { return adaptRooms(f, errFakeNoRoom) }
}

func (f *FakeRooms) Service() string { return f.service }

func (f *FakeRooms) Rooms() []fakeRoomInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRoomInfo
	for _, j := range slices.Sorted(maps.Keys(f.rooms)) {
		r := f.rooms[j]
		out = append(out, fakeRoomInfo{JID: j, Name: r.cfg.Name, Description: r.cfg.Description, Persistent: r.cfg.Persistent,
			Public: r.cfg.Public, MembersOnly: r.cfg.MembersOnly, Archived: r.cfg.Archived, Occupants: len(r.occupants)})
	}
	return out
}

func (f *FakeRooms) room(j string) (*fakeRoom, error) {
	r := f.rooms[j]
	if r == nil {
		return nil, errFakeNoRoom
	}
	return r, nil
}

func (f *FakeRooms) Occupants(room string) ([]fakeOccupant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(room)
	if err != nil {
		return nil, err
	}
	return slices.Clone(r.occupants), nil
}

func (f *FakeRooms) Destroy(_ context.Context, room, reason, alternate string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.room(room); err != nil {
		return err
	}
	delete(f.rooms, room)
	return nil
}

func (f *FakeRooms) Affiliations(_ context.Context, room string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(room)
	if err != nil {
		return nil, err
	}
	return maps.Clone(r.affs), nil
}

func (f *FakeRooms) SetAffiliation(_ context.Context, room, bareJID, affiliation, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.room(room)
	if err != nil {
		return err
	}
	if affiliation == "none" {
		delete(r.affs, bareJID)
	} else {
		r.affs[bareJID] = affiliation
	}
	return nil
}

func (f *FakeRooms) EnsureRoom(_ context.Context, room string, cfg fakeRoomConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Ensured++
	if !strings.HasSuffix(room, "@"+f.service) {
		return errors.New("not a room of this service")
	}
	if r := f.rooms[room]; r != nil {
		r.cfg = cfg
		return nil
	}
	f.rooms[room] = &fakeRoom{cfg: cfg, affs: map[string]string{}}
	return nil
}

// Config returns a room's configuration, and whether it exists.
func (f *FakeRooms) Config(room string) (name string, persistent, public, membersOnly, archived, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rooms[room]
	if r == nil {
		return "", false, false, false, false, false
	}
	return r.cfg.Name, r.cfg.Persistent, r.cfg.Public, r.cfg.MembersOnly, r.cfg.Archived, true
}

// Join puts an occupant in a room.
func (f *FakeRooms) Join(room, nick, full, role string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.rooms[room]; r != nil {
		bare, _, _ := strings.Cut(full, "/")
		r.occupants = append(r.occupants, fakeOccupant{Nick: nick, JID: full, Role: role, Affiliation: r.affs[bare]})
	}
}
