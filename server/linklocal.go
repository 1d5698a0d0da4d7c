package server

import (
	"hearth/server/admin"
)

// The admin's view of chat on the LAN (XEP-0174, mod/lanchat): hooks is
// an admin.LinkLocaler when the server offers it.
var _ admin.LinkLocaler = (*hooks)(nil)

// LinkLocal implements admin.LinkLocaler.
func (h *hooks) LinkLocal() admin.LinkLocalStatus {
	m := h.s.lanchat
	if m == nil {
		return admin.LinkLocalStatus{Reason: "this server does not offer it (--no-mdns was given)"}
	}
	st := m.Status()
	out := admin.LinkLocalStatus{Enabled: st.Enabled, Running: st.Running, Reason: st.Reason, Host: st.Host, Port: st.Port, OptedIn: st.OptedIn}
	for _, a := range st.Announced {
		out.Announced = append(out.Announced, admin.LinkLocalAnnouncement{User: a.User, Name: a.Name, Status: a.Status, Msg: a.Msg})
	}
	for _, p := range st.Peers {
		out.Peers = append(out.Peers, admin.LinkLocalPeer{Name: p.Name, JID: p.JID, Status: p.Status, Msg: p.Msg, Addrs: p.Addrs, Port: p.Port})
	}
	return out
}

// LinkLocalChanged implements admin.LinkLocaler.
func (h *hooks) LinkLocalChanged(user string, on bool) {
	if h.s.lanchat != nil {
		h.s.lanchat.SetOptIn(user, on)
	}
}
