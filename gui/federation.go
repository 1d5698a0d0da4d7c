package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// federationText says what the Federation tab will hold, and that this
// build does not have it: no control that does nothing.
const federationText = "Federation is not in this build of Hearth yet.\n\n" +
	"With federation, family members could talk with people whose accounts are on other XMPP servers " +
	"(and they with them). This build serves the family's own accounts only: " +
	"everyone with an account on this server can talk with everyone else on it."

// newFederationTab is the Federation tab: for now, that it is not in this
// build.
func newFederationTab() fyne.CanvasObject {
	text := widget.NewLabel(federationText)
	text.Wrapping = fyne.TextWrapWord
	return container.NewVScroll(container.NewVBox(widget.NewCard("Federation", "not in this build", text)))
}
