package muc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// Queries between occupants (XEP-0045 7.x, XEP-0410 4): an IQ to room/nick
// goes to the occupant's real JID (a vCard request to its bare JID) under
// a new id, from the asker's room JID; the answer comes back the same
// way. The asker's real JID is never shown.

// maxForwarded bounds the queries under way; forwardTTL is how long an
// unanswered one is remembered.
const (
	maxForwarded = 10000
	maxPerAsker  = 20 // under way from one session
	forwardTTL   = time.Minute
)

type forwarded struct {
	asker   jid.JID // real full JID
	id      string  // the asker's id
	target  jid.JID // where it went (real JID)
	askerAs jid.JID // room/nick of the asker
	answer  jid.JID // room/nick the answer comes from
	at      time.Time
}

// forwardIQ passes an IQ from an occupant (askerAs: its room JID) to
// another (answer: its room JID; to: its real JID).
func (m *Module) forwardIQ(ctx context.Context, st *stanza.Stanza, askerAs, answer, to jid.JID) *stanza.Error {
	target := to
	if q := st.Payload(); q != nil && q.Name == "vCard" && q.NS == stanza.NSVCard {
		target = to.Bare()
	}
	b := make([]byte, 9)
	_, _ = rand.Read(b)
	id := "muc-" + hex.EncodeToString(b)
	now := m.now()
	m.fmu.Lock()
	mine := 0
	for k, f := range m.forwards {
		if now.Sub(f.at) > forwardTTL {
			delete(m.forwards, k)
		} else if f.asker == st.From {
			mine++
		}
	}
	if mine >= maxPerAsker {
		m.fmu.Unlock()
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "you have too many queries to other occupants under way; wait for their answers")
	}
	if len(m.forwards) >= maxForwarded {
		m.fmu.Unlock()
		return stanza.NewError(stanza.Wait, stanza.ResourceConstraint, "too many queries between occupants are under way; try again in a moment")
	}
	m.forwards[id] = forwarded{asker: st.From, id: st.ID, target: target, askerAs: askerAs, answer: answer, at: now}
	m.fmu.Unlock()
	el := st.El.ShallowClone()
	el.SetAttr("from", askerAs.String())
	el.SetAttr("to", target.String())
	el.SetAttr("id", id)
	m.route(ctx, el)
	return nil
}

// answered passes the answer to a forwarded query back to its asker; an
// answer nobody waits for is dropped.
func (m *Module) answered(ctx context.Context, st *stanza.Stanza) {
	m.fmu.Lock()
	f, ok := m.forwards[st.ID]
	if ok && (f.target != st.From || f.askerAs != st.To) {
		ok = false
	}
	if ok {
		delete(m.forwards, st.ID)
	}
	m.fmu.Unlock()
	if !ok {
		return
	}
	el := st.El.ShallowClone()
	el.SetAttr("from", f.answer.String())
	el.SetAttr("to", f.asker.String())
	el.SetAttr("id", f.id)
	m.route(ctx, el)
}
