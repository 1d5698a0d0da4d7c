package gui

import (
	"testing"

	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

func TestCallsHealth(t *testing.T) {
	running := admin.TURNStatus{Enabled: true, Running: true, RelayAddress: "192.168.1.20", RelayMin: 49152, RelayMax: 49252,
		Allocations: 2, BytesRelayed: 3 << 20, RefusedAuth: 1}
	for _, tc := range []struct {
		name       string
		info       admin.Info
		want       string
		importance widget.Importance
	}{
		{"stopped", admin.Info{}, "the server is not running", widget.MediumImportance},
		{"off", admin.Info{Running: true}, "off: calls between different networks may not get through (setting turn.enabled)", widget.MediumImportance},
		{"failed", admin.Info{Running: true, TURN: admin.TURNStatus{Enabled: true, Reason: "port 3478 is taken"}}, "not running: port 3478 is taken", widget.WarningImportance},
		{"running", admin.Info{Running: true, TURN: running},
			"relay on 192.168.1.20 (ports 49152-49252), 2 in use, 3.0 MiB relayed; 1 refused for wrong or expired credentials", widget.SuccessImportance},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, importance := callsHealth(tc.info)
			if got != tc.want || importance != tc.importance {
				t.Errorf("%q (%v), want %q (%v)", got, importance, tc.want, tc.importance)
			}
		})
	}
}
