package muc

import (
	"context"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// Archive is the rooms' message archive (XEP-0313 for rooms), which
// mod/mam implements; the room engine works without one (no MAM, history
// on join from memory only).
type Archive interface {
	// Enabled reports whether messages are archived now (mam.enabled): while
	// they are not, rooms advertise no MAM, send no 170 and store nothing.
	Enabled() bool
	// Store archives a groupchat message as the room sends it out (from = room@service/nick,
	// with <occupant-id/>), and returns the copy to broadcast: the same message plus
	// <stanza-id xmlns="urn:xmpp:sid:0" id=".." by="room@service"/> (any stanza-id forged with
	// by=room removed first). The Durable is done once the row is committed (group commit);
	// muc broadcasts only after it is done, and answers the sender with an error if it failed.
	Store(ctx context.Context, room jid.JID, nick string, msg *stanza.Element) (*stanza.Element, router.Durable)
	// Query answers a XEP-0313 query IQ addressed to the room (the <query xmlns='urn:xmpp:mam:2'/>
	// get/set, also the form get and urn:xmpp:mam:2#extended metadata): muc has already checked the
	// asker may read the archive. Results go to the asker's session from the room's JID, as the XEP says.
	Query(ctx context.Context, st *stanza.Stanza, room jid.JID) (*stanza.Element, *stanza.Error)
	// Recent returns up to max of the room's last messages (oldest first) archived at or after since
	// (zero: no bound), each with its <delay xmlns='urn:xmpp:delay' from=room stamp=../> added:
	// history on join after a restart.
	Recent(ctx context.Context, room jid.JID, max int, since time.Time) ([]*stanza.Element, error)
	// Retract replaces the archived message whose stanza-id is id with a tombstone
	// (XEP-0425: the <retracted/> element, no body, the moderator by (room/nick) with its
	// occupant id byID), durable before it returns; ErrNotFound-style error
	// (storage.ErrNotFound) when there is no such message.
	Retract(ctx context.Context, room jid.JID, id string, by jid.JID, byID, reason string) error
	// Delete forgets the room's whole archive (room destroyed).
	Delete(ctx context.Context, room jid.JID) error
}
