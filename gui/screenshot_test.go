package gui

import (
	"context"
	"flag"
	"fmt"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"hearth/internal/buildinfo"
	"hearth/server/admin"
)

var update = flag.Bool("update", false, "write the screenshots in assets/screenshots and the golden markup in testdata/markup (make screenshots)")

// lightTheme is the default theme in its light variant: the test driver
// asks for a variant of its own.
type lightTheme struct{ fyne.Theme }

func (t lightTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, theme.VariantLight)
}

// TestScreenshots renders every tab, and the dialogs people meet most, at
// 1000x600 over a real server with accounts and real clients signed in.
// With -update (make screenshots) it writes them to assets/screenshots,
// which the README shows, and the markup of each to testdata/markup.
// Otherwise it compares the markup (what is where, at what size, with
// what text) with testdata/markup, so that a layout change shows in
// review; values that change from run to run (ports, times, fingerprints,
// the data directory) are masked first. Images are not compared: text
// rendering differs by font and platform.
func TestScreenshots(t *testing.T) {
	// The room engine is a stand-in until the server has its own.
	h := roomsHarness(t, newFakeRooms())
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
	h.waitFor("the database checked", func() bool { return strings.HasPrefix(h.ui.overview.health.database.Text, "ok") })
	h.waitFor("the settings", func() bool { return len(h.ui.settings.rows) > 0 })

	// The family circle on: the Family tab shows who sees whom.
	if _, err := h.api.SetSetting(h.ctx(), "family.circle", "true"); err != nil {
		t.Fatal(err)
	}
	// Every tab, those added later too: file names from their titles.
	// Federation comes last: its links log lines in an order of their
	// own.
	for _, item := range h.ui.tabs.Items {
		if item.Text == "Federation" {
			continue
		}
		name := strings.ToLower(strings.ReplaceAll(item.Text, " ", "-"))
		h.showTab(item.Text)
		if item.Text == "Rooms" {
			h.tap("Family (family@conference." + testDomain + ": 1 person in it)")
			h.waitFor("the family room", func() bool { return h.showsText("Gran (grandma@" + testDomain + "/tablet), participant, member") })
		}
		h.settle()
		h.shoot(name)
	}

	// Federation on, with another Hearth: a test through the window
	// opens the links, and its steps stay on the tab.
	peer := addPeer(t, h.api, "friends.test")
	for _, api := range []admin.API{h.api, peer} {
		if _, err := api.SetSetting(h.ctx(), "federation.enabled", "true"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.api.SetSetting(h.ctx(), "federation.block", "spam.test"); err != nil {
		t.Fatal(err)
	}
	h.showTab("Federation")
	h.ui.federation.testDomain.SetText("friends.test")
	h.tap("Test")
	h.waitFor("the federation test", func() bool { return h.ui.federation.testing == nil })
	h.waitFor("the links", func() bool { return h.ui.federation.links.Subtitle == "2 links" })
	h.settle()
	h.shoot("federation")
	h.ui.info.trigger()
	h.waitFor("the health line", func() bool { return h.ui.overview.health.federation.Text == "on, 2 links" })

	// The dialogs: a device's connect sheet, an invitation, and closing
	// the window.
	h.showTab("Users")
	h.waitFor("alice in the list", func() bool { return h.row(alice) != nil })
	test.Tap(h.row(alice).sheet)
	h.waitFor("the connect sheet", func() bool { return h.dialogTitled("Connect a device: " + alice) })
	h.settle()
	h.shoot("connect")
	h.tap("Done")
	h.tap("Invite…")
	h.waitFor("the invitation", func() bool { return h.dialogTitled("Invitation to " + testDomain) })
	h.settle()
	h.shoot("invite")
	h.tap("Done")

	h.showTab("Overview")
	h.ui.SetClosing(Closing{Stop: func() {}, StopCommand: "hearth stop"})
	h.ui.askClose()
	h.waitFor("the close dialog", func() bool { return h.dialogTitled("Close the window?") })
	h.settle()
	h.shoot("close")
	h.tap("Cancel")
}

// shoot captures the window as name.png (with -update) and checks its
// markup against testdata/markup/name.xml.
func (h *harness) shoot(name string) {
	t := h.t
	t.Helper()
	img := h.win.Canvas().Capture()
	if b := img.Bounds(); b.Dx() != 1000 || b.Dy() != 600 {
		t.Errorf("%s renders at %dx%d, want 1000x600", name, b.Dx(), b.Dy())
	}
	markup := h.maskMarkup(test.RenderToMarkup(h.win.Canvas()))
	golden := filepath.Join("testdata", "markup", name+".xml")
	if *update {
		writeFile(t, filepath.Join("..", "assets", "screenshots", name+".png"), func(f *os.File) error { return png.Encode(f, img) })
		writeFile(t, golden, func(f *os.File) error { _, err := f.WriteString(markup); return err })
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Errorf("%s: no golden markup (make screenshots writes it): %v", name, err)
		return
	}
	if markup == string(want) {
		return
	}
	failed := filepath.Join("testdata", "failed", name+".xml")
	writeFile(t, failed, func(f *os.File) error { _, err := f.WriteString(markup); return err })
	t.Errorf("%s: the layout changed (%s); compare %s with %s, and run make screenshots if the change is meant",
		name, firstDifference(string(want), markup), failed, golden)
}

func writeFile(t *testing.T, path string, write func(*os.File) error) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if *update {
		t.Logf("wrote %s", path)
	}
}

// firstDifference names the first line where two texts differ.
func firstDifference(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d: want %q, got %q", i+1, strings.TrimSpace(a), strings.TrimSpace(b))
		}
	}
	return "same lines"
}

// masks replace what changes from run to run in the markup's texts.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`([0-9A-F]{2}:){3,}[0-9A-F]{2}`), "FP"}, // fingerprints
	{regexp.MustCompile(`\b\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December)( \d{4})?`), "DATE"},
	{regexp.MustCompile(`\b\d\d:\d\d\b`), "HH:MM"},                           // times
	{regexp.MustCompile(`\b\d+ (min|h|d)\b`), "N min"},                       // uptime
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},               // listener, clients
	{regexp.MustCompile(`\b\d{4,5} \((STARTTLS|direct TLS)\)`), "PORT ($1)"}, // ports to type
	{regexp.MustCompile(`/hearth-[0-9a-f]+\b`), "/RESOURCE"},                 // bound resources
	{regexp.MustCompile(`hearth-home-ca-[0-9a-f]+`), "HOME-CA"},              // the CA's name
	{regexp.MustCompile(`127\.0\.0\.1 port \d+\b`), "127.0.0.1 port PORT"},   // a federation test's steps
	{regexp.MustCompile(`\bin \d+(\.\d+)?(µs|ms|s)\b`), "in DURATION"},
	{regexp.MustCompile(`\S*/TestScreenshots\d*\S*…`), "DATADIR…"},     // the data directory, cut short
	{regexp.MustCompile(`/invite/[A-Za-z0-9_-]{24}`), "/invite/TOKEN"}, // invitations
}

// gridCell is one character of a text grid.
var gridCell = regexp.MustCompile(`^(\s*<text monospace pos="[^"]*" size="0x0">).(</text>)$`)

var textElement = regexp.MustCompile(`^(\s*<text[^>]*?) size="[^"]*"([^>]*>)(.*)(</text>)$`)

// maskMarkup masks the texts that change from run to run (their sizes
// too, which follow the text), the data directory and the version.
func (h *harness) maskMarkup(markup string) string {
	info, err := h.api.Info(h.ctx())
	if err != nil {
		h.t.Fatal(err)
	}
	literal := strings.NewReplacer(info.DataDir, "DATADIR", buildinfo.Read().String(), "VERSION")
	lines := strings.Split(markup, "\n")
	for i, line := range lines {
		if m := gridCell.FindStringSubmatch(line); m != nil {
			// A text grid's cell (the Log tab): what it holds changes
			// from run to run; where it is does not.
			lines[i] = m[1] + "?" + m[2]
			continue
		}
		m := textElement.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		text := literal.Replace(m[3])
		if cut, ok := strings.CutSuffix(text, "…"); ok && cut != "" && strings.HasPrefix(info.DataDir, cut) {
			text = "DATADIR…" // the data directory, cut short to fit
		}
		for _, mask := range masks {
			text = mask.re.ReplaceAllString(text, mask.with)
		}
		if text != m[3] {
			lines[i] = m[1] + ` size="?"` + m[2] + text + m[4]
		}
	}
	return strings.Join(lines, "\n")
}
