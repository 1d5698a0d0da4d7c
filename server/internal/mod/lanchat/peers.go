package lanchat

import (
	"net/netip"
	"strings"

	"hearth/discovery"
	"hearth/server/internal/jid"
	"hearth/server/internal/router"
	"hearth/server/internal/stanza"
)

// browsed takes what the browser found: a peer came, changed or went.
func (m *Module) browsed(ev discovery.BrowseEvent) {
	e := ev.Entry
	k := nameKey(e.Instance)
	m.mu.Lock()
	// Our own instances, heard back: on our host name and our port (a
	// Bonjour client on this very machine has the same host name, never
	// the same port).
	if m.rt == nil || nameKey(e.Host) == nameKey(m.host+".local.") && e.Port == m.rt.port {
		m.mu.Unlock()
		return
	}
	old := m.peers[k]
	var out []delivery
	switch ev.Kind {
	case discovery.Removed:
		if old == nil {
			m.mu.Unlock()
			return
		}
		delete(m.peers, k)
		if m.byLocal[old.local] == old {
			delete(m.byLocal, old.local)
		}
		out = m.toAll(old, true)
	default:
		local, ok := peerLocal(e.Instance, m.lan)
		if !ok {
			m.mu.Unlock()
			m.log.Info("a peer on the LAN is left out: its name cannot be written as an address", "name", e.Instance)
			return
		}
		if held := m.byLocal[local]; held != nil && nameKey(held.instance) != k {
			// Never two peers behind one address (names.go makes this
			// impossible; this keeps it so).
			m.mu.Unlock()
			m.log.Info("a peer on the LAN is left out: its address is another peer's", "name", e.Instance, "other", held.instance)
			return
		}
		pres, problems := discovery.ParsePresence(e.TXT)
		if len(problems) > 0 {
			m.log.Debug("a peer's presence record on the LAN has parts left out", "name", e.Instance, "problems", problems)
		}
		pres = xmlSafe(pres)
		p := &peer{instance: e.Instance, local: local, entry: e, pres: pres}
		m.peers[k] = p
		m.byLocal[local] = p
		if old == nil || old.pres != pres {
			out = m.toAll(p, false)
		}
	}
	m.mu.Unlock()
	m.deliver(out)
	if ev.Kind == discovery.Removed {
		m.mu.Lock()
		rt := m.rt
		m.mu.Unlock()
		if rt != nil {
			rt.svc.CloseStreams(old.instance)
		}
	}
}

// toAll is p's presence for every available session of the accounts that
// take part. The caller holds mu.
func (m *Module) toAll(p *peer, gone bool) []delivery {
	var out []delivery
	for s := range m.given {
		if !m.blocked(s, p) {
			out = append(out, delivery{s, m.peerPresence(p, s.JID, gone)})
		}
	}
	return out
}

// blocked says whether the session's account blocks the peer (XEP-0191:
// no presence from it).
func (m *Module) blocked(s *router.Session, p *peer) bool {
	return m.r.Blocked(s.JID.Local, jid.JID{Local: p.local, Domain: m.lan})
}

// takeBackPeers tells an account that opted out that the peers are gone
// for it. The caller holds mu.
func (m *Module) takeBackPeers(user string) []delivery {
	var out []delivery
	for s := range m.given {
		if s.JID.Local != user {
			continue
		}
		delete(m.given, s)
		for _, p := range m.peers {
			out = append(out, delivery{s, m.peerPresence(p, s.JID, true)})
		}
	}
	return out
}

// peerPresence is the presence of p for to (XEP-0174 6: avail is
// available, away and dnd are shows; msg is the status; the nickname, if
// any, as XEP-0172). The caller holds mu.
func (m *Module) peerPresence(p *peer, to jid.JID, gone bool) *stanza.Element {
	el := stanza.New("presence", stanza.NSClient, "from", p.local+"@"+m.lan, "to", to.String())
	if gone {
		el.SetAttr("type", "unavailable")
		return el
	}
	switch p.pres.Status {
	case discovery.StatusAway:
		el.Append(stanza.New("show", stanza.NSClient).AppendText("away"))
	case discovery.StatusDND:
		el.Append(stanza.New("show", stanza.NSClient).AppendText("dnd"))
	}
	if p.pres.Msg != "" {
		el.Append(stanza.New("status", stanza.NSClient).AppendText(p.pres.Msg))
	}
	nick := p.pres.Nick
	if nick == "" {
		nick = joinName(p.pres.First, p.pres.Last)
	}
	if nick != "" {
		el.Append(stanza.New("nick", "http://jabber.org/protocol/nick").AppendText(nick))
	}
	return el
}

func joinName(first, last string) string {
	switch {
	case first == "":
		return last
	case last == "":
		return first
	}
	return first + " " + last
}

// directory is what the stream service learns from the announcements.
type directory struct{ m *Module }

func (d directory) Peer(name string) ([]netip.Addr, uint16, bool) {
	d.m.mu.Lock()
	p := d.m.peers[nameKey(name)]
	d.m.mu.Unlock()
	if p == nil {
		return nil, 0, false
	}
	port := uint16(p.entry.Port)
	if p.pres.Port > 0 {
		port = uint16(p.pres.Port)
	}
	var addrs []netip.Addr
	for _, a := range p.entry.Addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if a.Zone != "" && ip.Is6() {
			ip = ip.WithZone(a.Zone)
		}
		addrs = append(addrs, ip)
	}
	return addrs, port, len(addrs) > 0
}

func (d directory) Local(name string) bool {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	return d.m.userOf(name) != ""
}

// xmlSafe is a peer's presence with the characters XML 1.0 does not allow
// (control characters, U+FFFE, U+FFFF, lone surrogates) taken out of its
// texts: they go into stanzas, and one such character makes the XML sent
// to a client not well-formed, which ends its stream.
func xmlSafe(p discovery.Presence) discovery.Presence {
	for _, s := range []*string{&p.First, &p.Last, &p.Nick, &p.JID, &p.Msg, &p.Status} {
		*s = xmlText(*s)
	}
	return p
}

// xmlText is s without the characters XML 1.0 does not allow (2.2 Char).
func xmlText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t', r == '\n', r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return -1
	}, s)
}
