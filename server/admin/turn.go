package admin

// TURNStatus is how the server's STUN/TURN service for calls stands
// (Info.TURN).
type TURNStatus struct {
	// Enabled is the setting turn.enabled; Running, whether the service
	// answers; Reason says why it does not while it is enabled.
	Enabled bool
	Running bool
	Reason  string `json:",omitempty"`
	// Listening are the sockets, as "udp 0.0.0.0:3478", "tcp ...",
	// "tls ...".
	Listening []string `json:",omitempty"`
	// RelayAddress is the address relays are announced on; RelayMin and
	// RelayMax the ports they use.
	RelayAddress       string `json:",omitempty"`
	RelayMin, RelayMax int    `json:",omitempty"`
	// Allocations are the relays held now, of at most MaxAllocations,
	// PerUser per account.
	Allocations, MaxAllocations, PerUser int
	// BytesRelayed and PacketsRelayed count what went through the
	// relays, both ways, since the start.
	BytesRelayed, PacketsRelayed int64
	// RefusedAuth counts requests refused for credentials that were
	// forged, expired or not Hearth's; RefusedQuota relays refused for a
	// quota (486).
	RefusedAuth, RefusedQuota int64
}
