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
	text := fmt.Sprintf("relay on %s (ports %d-%d), %d in use, %s relayed", st.RelayAddress, st.RelayMin, st.RelayMax, st.Allocations, sizeText(st.BytesRelayed))
	if st.RefusedAuth > 0 {
		text += fmt.Sprintf("; %d refused for wrong or expired credentials", st.RefusedAuth)
	}
	return text, widget.SuccessImportance
}

// sizeText says a byte count in the unit people read.
func sizeText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
