package gui

import (
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// TestComponentsPanel: the Settings tab's bots and gateways add a component (its secret shown in
// a dialog), lists it as not connected, and removes it after asking.
func TestComponentsPanel(t *testing.T) {
	h := newHarness(t)
	h.showTab("Settings")
	h.waitFor("no component", func() bool { return h.showsText("No bot or gateway is configured.") })
	h.ui.components.name.SetText("bot")
	h.tap("Add")
	h.waitFor("the secret dialog", func() bool { return h.dialogTitled("Component bot." + testDomain + " added") })
	h.tap("Done")
	h.waitFor("the component listed", func() bool { return h.showsText("bot." + testDomain + ": not connected") })
	cs, err := h.api.Components(h.ctx())
	if err != nil || len(cs) != 1 {
		t.Fatalf("Components = %+v, %v", cs, err)
	}
	h.ui.components.name.SetText("bot") // the same name again: refused, and said why
	h.tap("Add")
	h.waitFor("the refusal", func() bool {
		return h.showsText("Cannot add the component: the component bot." + testDomain + " exists already; remove it first to give it a new secret")
	})
	var remove *widget.Button
	for _, o := range test.LaidOutObjects(h.ui.components.content) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Remove" {
			remove = b
		}
	}
	if remove == nil {
		t.Fatal("no Remove button")
	}
	test.Tap(remove)
	h.waitFor("the question", func() bool { return h.dialogTitled("Remove the component?") })
	h.tap("Remove")
	h.waitFor("none left", func() bool { return h.showsText("No bot or gateway is configured.") })
}
