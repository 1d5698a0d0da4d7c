package lanchat

import (
	"slices"
	"strings"
)

// Status is how chat on the LAN stands, for the admin.
type Status struct {
	Enabled bool
	Running bool
	Reason  string
	Host    string // lan.<domain>
	Port    int
	OptedIn []string
	// Announced are the accounts announced now.
	Announced []Announced
	// Peers are the people found on the LAN.
	Peers []Peer
}

// Announced is one account's instance.
type Announced struct {
	User, Name, Status, Msg string
}

// Peer is one person found on the LAN.
type Peer struct {
	Name, JID, Status, Msg string
	Addrs                  []string
	Port                   int
}

// Status reports how chat on the LAN stands.
func (m *Module) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := Status{Enabled: m.enabled, Running: m.rt != nil, Reason: m.reason, Host: m.lan}
	if m.rt != nil {
		st.Port = m.rt.port
	} else if st.Reason == "" {
		switch {
		case !m.enabled:
			st.Reason = "switched off in the settings (linklocal.enabled)"
		case len(m.optIn) == 0:
			st.Reason = "no account takes part"
		}
	}
	for u := range m.optIn {
		st.OptedIn = append(st.OptedIn, u)
	}
	slices.Sort(st.OptedIn)
	for u, a := range m.ann {
		st.Announced = append(st.Announced, Announced{User: u, Name: a.inst.Name(), Status: a.pres.Status, Msg: a.pres.Msg})
	}
	slices.SortFunc(st.Announced, func(a, b Announced) int { return strings.Compare(a.User, b.User) })
	for _, p := range m.peers {
		var addrs []string
		for _, a := range p.entry.Addrs {
			addrs = append(addrs, a.String())
		}
		port := p.entry.Port
		if p.pres.Port > 0 {
			port = p.pres.Port
		}
		st.Peers = append(st.Peers, Peer{Name: p.instance, JID: p.local + "@" + m.lan, Status: p.pres.Status, Msg: p.pres.Msg,
			Addrs: addrs, Port: port})
	}
	slices.SortFunc(st.Peers, func(a, b Peer) int { return strings.Compare(a.Name, b.Name) })
	return st
}
