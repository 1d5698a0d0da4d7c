package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"hearth/server/admin"
	"hearth/server/internal/mod/family"
	"hearth/server/settings"
)

// The chat rooms (XEP-0045) as the admin and the family room see them.
// The room engine (mod/muc) has its own types for a room, an occupant and
// a room's configuration; adaptRooms takes any whose fields are these
// and converts them, field for field, so that neither side imports the
// other's (server/admin must not see server/internal).

// roomInfo, occupantInfo and roomConfig are the shapes of mod/muc's
// RoomInfo, OccupantInfo and RoomConfig.
type (
	roomInfo interface {
		~struct {
			JID, Name, Description, Subject                                         string
			Persistent, Public, MembersOnly, Moderated, PasswordProtected, Archived bool
			Occupants                                                               int
		}
	}
	occupantInfo interface {
		~struct{ Nick, JID, Role, Affiliation string }
	}
	roomConfig interface {
		~struct {
			Name, Description                                                  string
			Persistent, Public, MembersOnly, Moderated, Archived, NonAnonymous bool
			Password                                                           string
		}
	}
)

// roomEngine is what the room engine offers the admin side (*muc.Module).
type roomEngine[R roomInfo, O occupantInfo, C roomConfig] interface {
	Service() string
	Rooms() []R
	Occupants(room string) ([]O, error)
	Destroy(ctx context.Context, room, reason, alternate string) error
	Affiliations(ctx context.Context, room string) (map[string]string, error)
	SetAffiliation(ctx context.Context, room, bareJID, affiliation, reason string) error
	EnsureRoom(ctx context.Context, room string, cfg C) error
}

// rooms is the room engine as the admin API and the family room use it.
type rooms interface {
	admin.RoomService
	family.Rooms
}

// adaptRooms makes the room engine m the server's rooms; noRoom is its
// error for a room that is not there (muc.ErrNoRoom), which the admin
// API reports as admin.ErrNotFound.
func adaptRooms[R roomInfo, O occupantInfo, C roomConfig](m roomEngine[R, O, C], noRoom error) rooms {
	return roomAdapter[R, O, C]{m: m, noRoom: noRoom}
}

type roomAdapter[R roomInfo, O occupantInfo, C roomConfig] struct {
	m      roomEngine[R, O, C]
	noRoom error
}

func (a roomAdapter[R, O, C]) err(err error) error {
	if err != nil && a.noRoom != nil && errors.Is(err, a.noRoom) {
		return fmt.Errorf("%w: %w", admin.ErrNotFound, err)
	}
	return err
}

func (a roomAdapter[R, O, C]) Service() string { return a.m.Service() }

func (a roomAdapter[R, O, C]) Rooms() []admin.RoomInfo {
	rs := a.m.Rooms()
	out := make([]admin.RoomInfo, len(rs))
	for i, r := range rs {
		out[i] = admin.RoomInfo(r)
	}
	return out
}

func (a roomAdapter[R, O, C]) Occupants(room string) ([]admin.Occupant, error) {
	os, err := a.m.Occupants(room)
	if err != nil {
		return nil, a.err(err)
	}
	out := make([]admin.Occupant, len(os))
	for i, o := range os {
		out[i] = admin.Occupant(o)
	}
	return out, nil
}

func (a roomAdapter[R, O, C]) Destroy(ctx context.Context, room, reason, alternate string) error {
	return a.err(a.m.Destroy(ctx, room, reason, alternate))
}

func (a roomAdapter[R, O, C]) Affiliations(ctx context.Context, room string) (map[string]string, error) {
	m, err := a.m.Affiliations(ctx, room)
	return m, a.err(err)
}

func (a roomAdapter[R, O, C]) SetAffiliation(ctx context.Context, room, bareJID, affiliation, reason string) error {
	return a.err(a.m.SetAffiliation(ctx, room, bareJID, affiliation, reason))
}

func (a roomAdapter[R, O, C]) EnsureRoom(ctx context.Context, room string, cfg family.RoomConfig) error {
	return a.err(a.m.EnsureRoom(ctx, room, C(cfg)))
}

// applyFamilyRoom keeps the family room the settings name (muc.family_room),
// with every account in it, before it returns; as for the family
// circle, the caller's giving up does not stop it, the server's end does.
func (s *Server) applyFamilyRoom(ctx context.Context, v settings.Values) error {
	if s.familyRoom == nil {
		return nil
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	return s.familyRoom.Set(ctx, v.String(settings.KeyFamilyRoom))
}

// applyFamilyOwners makes the administrators (admin.jids) the family
// room's owners: now, or when the room is made.
func (s *Server) applyFamilyOwners(ctx context.Context, v settings.Values) error {
	if s.familyRoom == nil {
		return nil
	}
	ctx, cancel := s.detach(ctx)
	defer cancel()
	return s.familyRoom.SetOwners(ctx, strings.Fields(strings.ReplaceAll(v.String(settings.KeyAdmins), ",", " ")))
}
