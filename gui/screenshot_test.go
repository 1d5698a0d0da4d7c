package gui

import (
	"context"
	"flag"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

var update = flag.Bool("update", false, "write the screenshots in assets/screenshots")

// lightTheme is the default theme in its light variant: the test driver
// asks for a variant of its own.
type lightTheme struct{ fyne.Theme }

func (t lightTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, theme.VariantLight)
}

// TestScreenshots renders each tab at 900x600 with a few accounts and
// sessions. With -update it writes them to assets/screenshots; otherwise it
// only checks that rendering works, since text rendering differs by font
// and platform.
func TestScreenshots(t *testing.T) {
	h := newHarness(t)
	h.app.Settings().SetTheme(lightTheme{theme.DefaultTheme()})

	alice := h.addUser("alice", "wonderland-tea-1")
	bob := h.addUser("bob", "builder-tools-1")
	h.addUser("grandma", "knitting-yarn-1")
	for _, s := range []struct{ jid, password string }{
		{alice, "wonderland-tea-1"},
		{alice, "wonderland-tea-1"},
		{bob, "builder-tools-1"},
	} {
		if _, err := login(t, h.api, s.jid, s.password); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("three sessions", func() bool { return h.ui.overview.online.Subtitle == "3 sessions" })
	h.waitFor("three accounts", func() bool { return h.ui.users.summary.Text == "3 accounts, 2 online" })
	h.waitFor("every device available", func() bool {
		ss, err := h.api.Sessions(context.Background())
		for _, s := range ss {
			if s.Presence != "available" {
				return false
			}
		}
		return err == nil && len(ss) == 3
	})

	for _, shot := range []struct{ tab, file string }{
		{"Overview", "overview.png"},
		{"Users", "users.png"},
		{"Settings", "settings.png"},
	} {
		h.showTab(shot.tab)
		h.settle()
		img := h.win.Canvas().Capture()
		if b := img.Bounds(); b.Dx() != 900 || b.Dy() != 600 {
			t.Errorf("%s renders at %dx%d, want 900x600", shot.tab, b.Dx(), b.Dy())
		}
		if !*update {
			continue
		}
		path := filepath.Join("..", "assets", "screenshots", shot.file)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}
