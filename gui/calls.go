package gui

import (
	"fmt"

	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// callsHealth is the Overview's calls line: the STUN/TURN service that
// lets calls through routers, its relays and what they carried.
func callsHealth(info admin.Info) (string, widget.Importance) {
	st := info.TURN
	switch {
	case !info.Running:
		return "the server is not running", widget.MediumImportance
	case !st.Enabled:
		return "off: calls between different networks may not get through (setting turn.enabled)", widget.MediumImportance
	case !st.Running:
		return "not running: " + st.Reason, widget.WarningImportance
	}
	text := fmt.Sprintf("relay on %s (ports %d-%d), %d in use, %s relayed", st.RelayAddress, st.RelayMin, st.RelayMax, st.Allocations, admin.ByteSize(st.BytesRelayed))
	if st.RefusedAuth > 0 {
		text += fmt.Sprintf("; %d refused for wrong or expired credentials", st.RefusedAuth)
	}
	return text, widget.SuccessImportance
}
