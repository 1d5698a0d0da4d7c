package gui

import (
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// TestFilesTab: the Files tab shows the upload limits from the settings
// and no files yet; "Delete expired files now" asks the server and says
// what went.
func TestFilesTab(t *testing.T) {
	h := newHarness(t)
	h.showTab("Files")
	h.waitFor("the limits", func() bool { return h.showsText("Largest file 100.0 MiB") })
	h.waitFor("no files", func() bool { return h.showsText("No one has shared a file.") })
	var purge *widget.Button
	for _, o := range test.LaidOutObjects(h.ui.files.content) {
		if b, ok := o.(*widget.Button); ok && b.Text == "Delete expired files now" {
			purge = b
		}
	}
	if purge == nil {
		t.Fatal("no purge button")
	}
	test.Tap(purge)
	h.waitFor("the purge's result", func() bool { return h.showsText("Deleted 0 files (0 bytes).") })
}
