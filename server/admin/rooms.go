package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"hearth/server/internal/jid"
)

// RoomInfo is one chat room (XEP-0045) of the server's room service: its
// address, what its configuration says, and how many are in it now.
type RoomInfo struct {
	JID, Name, Description, Subject string

	Persistent, Public, MembersOnly, Moderated, PasswordProtected, Archived bool

	Occupants int
}

// Occupant is one person in a room now.
type Occupant struct {
	Nick string
	// JID is the occupant's real full JID.
	JID               string
	Role, Affiliation string
}

// RoomAffiliation is a lasting place of someone in a room: owner, admin,
// member or outcast (banned).
type RoomAffiliation struct {
	JID         string // bare
	Affiliation string
}

// Affiliations a room gives, from the most rights to none (XEP-0045 5.2);
// "none" takes one away.
var Affiliations = []string{"owner", "admin", "member", "outcast", "none"}

// RoomService is the server's chat rooms as the admin sees them: the
// room engine (mod/muc), through the server. Room arguments are rooms'
// bare JIDs; errors are in plain words.
type RoomService interface {
	// Service is the rooms' domain, conference.<domain>.
	Service() string
	// Rooms lists every room, sorted by JID.
	Rooms() []RoomInfo
	// Occupants lists who is in a room; ErrNotFound when there is no
	// such room.
	Occupants(room string) ([]Occupant, error)
	// Destroy ends a room: its occupants are told (with the reason and
	// the room that replaces it, if any) and it is forgotten.
	Destroy(ctx context.Context, room, reason, alternate string) error
	// Affiliations maps bare JIDs to owner, admin, member or outcast.
	Affiliations(ctx context.Context, room string) (map[string]string, error)
	// SetAffiliation sets one ("none" takes it away); occupants hear of
	// it as XEP-0045 says.
	SetAffiliation(ctx context.Context, room, bareJID, affiliation, reason string) error
}

// rooms returns the room service, or says in plain words why there is
// none to manage.
func (l *Local) rooms() (RoomService, error) {
	if l.MUC != nil {
		return l.MUC, nil
	}
	if l.Live == nil {
		return nil, fmt.Errorf("%w: chat rooms live in the running server; start Hearth first", ErrOffline)
	}
	return nil, errors.New("this server has no chat rooms")
}

// room normalises a room's address: a bare JID on the room service, or
// just the room's name there.
func (l *Local) room(svc RoomService, s string) (string, error) {
	s = strings.TrimSpace(s)
	var j jid.JID
	var err error
	if strings.Contains(s, "@") {
		j, err = jid.Parse(s)
	} else {
		j, err = jid.New(s, svc.Service(), "")
	}
	switch {
	case err != nil || j.Local == "":
		return "", invalidf("%q is not a room: give its name, such as family, or its address, such as family@%s", s, svc.Service())
	case j.Resource != "":
		return "", invalidf("%q names someone in a room; give the room's address, %s", s, j.Bare())
	case j.Domain != svc.Service():
		return "", invalidf("%q is not a room of this server: its rooms are at %s", s, svc.Service())
	}
	return j.String(), nil
}

// roomErr gives a room engine's error its kind: a room that is not there
// is ErrNotFound.
func roomErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return &kindError{msg: op + ": there is no such room (hearth rooms lists them)", kind: ErrNotFound}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Rooms lists the server's chat rooms, sorted by address.
func (l *Local) Rooms(ctx context.Context) ([]RoomInfo, error) {
	svc, err := l.rooms()
	if err != nil {
		return nil, err
	}
	rs := svc.Rooms()
	slices.SortFunc(rs, func(a, b RoomInfo) int { return strings.Compare(a.JID, b.JID) })
	return rs, nil
}

// Occupants lists who is in a room now, by nickname.
func (l *Local) Occupants(ctx context.Context, room string) ([]Occupant, error) {
	svc, err := l.rooms()
	if err != nil {
		return nil, err
	}
	r, err := l.room(svc, room)
	if err != nil {
		return nil, fmt.Errorf("occupants: %w", err)
	}
	os, err := svc.Occupants(r)
	if err != nil {
		return nil, roomErr("occupants of "+r, err)
	}
	slices.SortFunc(os, func(a, b Occupant) int { return strings.Compare(a.Nick, b.Nick) })
	return os, nil
}

// DestroyRoom ends a room: those in it are told why and where to go
// instead (a room's bare JID, or none).
func (l *Local) DestroyRoom(ctx context.Context, room, reason, alternate string) error {
	svc, err := l.rooms()
	if err != nil {
		return err
	}
	r, err := l.room(svc, room)
	if err != nil {
		return fmt.Errorf("destroy room: %w", err)
	}
	if alternate = strings.TrimSpace(alternate); alternate != "" {
		j, err := jid.Parse(alternate)
		if err != nil || j.Local == "" || j.Resource != "" {
			return fmt.Errorf("destroy room %s: %w", r, invalidf("the room to go to instead, %q, is not a room's address such as family@%s", alternate, svc.Service()))
		}
		if j.String() == r {
			return fmt.Errorf("destroy room %s: %w", r, invalidf("the room to go to instead cannot be the room destroyed"))
		}
		alternate = j.String()
	}
	if err := svc.Destroy(ctx, r, strings.TrimSpace(reason), alternate); err != nil {
		return roomErr("destroy room "+r, err)
	}
	l.Events.Publish(Event{Kind: EventRooms, JID: r})
	return nil
}

// affRank orders affiliations from the most rights to the least.
func affRank(a string) int {
	if i := slices.Index(Affiliations, a); i >= 0 {
		return i
	}
	return len(Affiliations)
}

// RoomAffiliations lists who has a lasting place in a room: owners
// first, then admins, members and outcasts, each by address.
func (l *Local) RoomAffiliations(ctx context.Context, room string) ([]RoomAffiliation, error) {
	svc, err := l.rooms()
	if err != nil {
		return nil, err
	}
	r, err := l.room(svc, room)
	if err != nil {
		return nil, fmt.Errorf("room affiliations: %w", err)
	}
	m, err := svc.Affiliations(ctx, r)
	if err != nil {
		return nil, roomErr("affiliations of "+r, err)
	}
	out := make([]RoomAffiliation, 0, len(m))
	for j, a := range m {
		out = append(out, RoomAffiliation{JID: j, Affiliation: a})
	}
	slices.SortFunc(out, func(a, b RoomAffiliation) int {
		if d := affRank(a.Affiliation) - affRank(b.Affiliation); d != 0 {
			return d
		}
		return strings.Compare(a.JID, b.JID)
	})
	return out, nil
}

// SetRoomAffiliation gives who (a bare JID, or an account's name) an
// affiliation in a room: owner, admin, member, outcast, or none to take
// it away.
func (l *Local) SetRoomAffiliation(ctx context.Context, room, who, affiliation string) error {
	svc, err := l.rooms()
	if err != nil {
		return err
	}
	r, err := l.room(svc, room)
	if err != nil {
		return fmt.Errorf("set room affiliation: %w", err)
	}
	aff := strings.ToLower(strings.TrimSpace(affiliation))
	if !slices.Contains(Affiliations, aff) {
		return fmt.Errorf("set room affiliation in %s: %w", r, invalidf("%q is not an affiliation: give one of %s", affiliation, strings.Join(Affiliations, ", ")))
	}
	var j jid.JID
	if who = strings.TrimSpace(who); strings.Contains(who, "@") {
		j, err = jid.Parse(who)
	} else {
		j, err = jid.New(who, l.domain(), "")
	}
	switch {
	case err != nil:
		return fmt.Errorf("set room affiliation in %s: %w", r, invalidf("%q is not an address: give an account's name, such as grandma, or an address such as grandma@%s", who, l.domain()))
	case j.Resource != "":
		return fmt.Errorf("set room affiliation in %s: %w", r, invalidf("%q has a resource; give the bare address, %s", who, j.Bare()))
	case j.String() == r:
		return fmt.Errorf("set room affiliation in %s: %w", r, invalidf("a room cannot be in itself"))
	}
	if err := svc.SetAffiliation(ctx, r, j.String(), aff, ""); err != nil {
		return roomErr("make "+j.String()+" "+aff+" of "+r, err)
	}
	l.Events.Publish(Event{Kind: EventRooms, JID: r})
	return nil
}

// Rooms asks the running server for its chat rooms.
func (c *Client) Rooms(ctx context.Context) ([]RoomInfo, error) {
	var v []RoomInfo
	err := c.call(ctx, "Rooms", request{}, &v)
	return v, err
}

// Occupants asks the running server who is in a room.
func (c *Client) Occupants(ctx context.Context, room string) ([]Occupant, error) {
	var v []Occupant
	err := c.call(ctx, "Occupants", request{Room: room}, &v)
	return v, err
}

// DestroyRoom asks the running server to end a room.
func (c *Client) DestroyRoom(ctx context.Context, room, reason, alternate string) error {
	return c.call(ctx, "DestroyRoom", request{Room: room, Reason: reason, Alternate: alternate}, nil)
}

// RoomAffiliations asks the running server who has a place in a room.
func (c *Client) RoomAffiliations(ctx context.Context, room string) ([]RoomAffiliation, error) {
	var v []RoomAffiliation
	err := c.call(ctx, "RoomAffiliations", request{Room: room}, &v)
	return v, err
}

// SetRoomAffiliation asks the running server to change someone's place
// in a room.
func (c *Client) SetRoomAffiliation(ctx context.Context, room, who, affiliation string) error {
	return c.call(ctx, "SetRoomAffiliation", request{Room: room, JID: who, Value: affiliation}, nil)
}

// roomMethods serves the room calls on the admin socket.
func roomMethods(api API, method func(name string, fn func(ctx context.Context, r request) (any, error))) {
	none := struct{}{}
	method("Rooms", func(ctx context.Context, r request) (any, error) { return api.Rooms(ctx) })
	method("Occupants", func(ctx context.Context, r request) (any, error) { return api.Occupants(ctx, r.Room) })
	method("DestroyRoom", func(ctx context.Context, r request) (any, error) {
		return none, api.DestroyRoom(ctx, r.Room, r.Reason, r.Alternate)
	})
	method("RoomAffiliations", func(ctx context.Context, r request) (any, error) { return api.RoomAffiliations(ctx, r.Room) })
	method("SetRoomAffiliation", func(ctx context.Context, r request) (any, error) {
		return none, api.SetRoomAffiliation(ctx, r.Room, r.JID, r.Value)
	})
}
