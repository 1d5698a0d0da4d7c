package invite

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hearth/storage"
)

var update = flag.Bool("update", false, "write the landing page's screenshot to assets/screenshots (make screenshots)")

// screenshot is where make screenshots puts the landing page.
const screenshot = "../../../../assets/screenshots/invite-page.png"

// chromium runs Debian's chromium headless with args and returns what it
// printed; as root it needs --no-sandbox.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium missing in CI (make deps installs it)")
		}
		t.Skip("chromium not installed (make deps installs it)")
	}
	base := []string{"--headless", "--disable-gpu", "--no-first-run", "--hide-scrollbars", "--user-data-dir=" + t.TempDir()}
	if os.Geteuid() == 0 {
		base = append(base, "--no-sandbox")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "LANG=en_US.UTF-8", "TZ=UTC")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return string(out)
}

// TestInvitePageChromium: the landing page as Chromium shows it, served
// as on the LAN's CA page: a valid invitation shows its QR code (a PNG
// that loads: Chromium gives it its natural width), the open button
// with the xmpp: URI, the link to copy, the step to trust the home CA
// and the apps; an expired, a used and an unknown one each say what
// happened and what to do. make screenshots saves the page.
func TestInvitePageChromium(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "hearth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s1, s256, err := storage.NewCredentials("silver-kettle-pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateUser(ctx, storage.User{Name: "alice", SHA1: s1, SHA256: s256}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, i := range []storage.Invite{
		{Token: "valid-token-0123456789ab", Kind: storage.InviteAccountContact, Inviter: "alice", Expires: now.Add(DefaultExpiry), MaxUses: 1},
		{Token: "expired-token-0123456789", Kind: storage.InviteAccount, Expires: now.Add(-time.Hour), MaxUses: 1},
		{Token: "used-token-0123456789abc", Kind: storage.InviteAccount, Expires: now.Add(time.Hour), MaxUses: 1},
		{Token: "reset-token-0123456789ab", Kind: storage.InviteReset, User: "alice", Expires: now.Add(time.Hour), MaxUses: 1},
	} {
		if err := db.CreateInvite(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.UseInvite(ctx, "used-token-0123456789abc", now); err != nil {
		t.Fatal(err)
	}
	m := New(Deps{DB: db, Domain: "home.test", Now: func() time.Time { return now }})
	mux := http.NewServeMux()
	mux.Handle(PagePath, m.Page(true))
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)

	dom := chromium(t, "--dump-dom", hs.URL+PagePath+"valid-token-0123456789ab")
	for _, want := range []string{
		"<h1>alice@home.test invites you to chat on home.test</h1>",
		`id="qr" src="data:image/png;base64,`,
		`alt="QR code of the invitation: scan it with your chat app"`,
		`id="open" href="xmpp:alice@home.test?roster;preauth=valid-token-0123456789ab;ibr=y"`,
		`<code id="uri">xmpp:alice@home.test?roster;preauth=valid-token-0123456789ab;ibr=y</code>`,
		`<code id="link">` + hs.URL + PagePath + `valid-token-0123456789ab</code>`,
		`<a id="ca-page" href="/">`,
		"Conversations", "Monal", "Siskin IM", "Gajim", "Dino", "Monocles Chat",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the page lacks %s:\n%s", want, dom)
		}
	}
	// The QR code is a PNG image of the size it was made at.
	data, _, _ := strings.Cut(dom[strings.Index(dom, "data:image/png;base64,")+len("data:image/png;base64,"):], `"`)
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil || img.Bounds().Dx() != 320 {
		t.Fatalf("QR code image: %v, %v", img, err)
	}

	for _, tc := range []struct{ token, title, advice string }{
		{"expired-token-0123456789", "This invitation has expired", "Ask the person who invited you to send a new one."},
		{"used-token-0123456789abc", "This invitation has already been used", "open your chat app: your account is there"},
		{"unknown-token-0123456789", "This invitation is not known here", "ask the person who invited you to send it again"},
		{"bad token", "This invitation is not known here", "Check that you opened the whole link"},
	} {
		dom := chromium(t, "--dump-dom", hs.URL+PagePath+strings.ReplaceAll(tc.token, " ", "%20"))
		if !strings.Contains(dom, "<h1>"+tc.title+"</h1>") || !strings.Contains(dom, tc.advice) || strings.Contains(dom, `id="qr"`) {
			t.Errorf("%s: the page does not say %q / %q:\n%s", tc.token, tc.title, tc.advice, dom)
		}
	}

	// A password reset is not shown on the LAN's plain-HTTP page.
	res, err := http.Get(hs.URL + PagePath + "reset-token-0123456789ab")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Open this link over a secure connection") || strings.Contains(string(body), "preauth=") {
		t.Errorf("a reset invitation on the LAN page: %d\n%s", res.StatusCode, body)
	}

	shot := filepath.Join(t.TempDir(), "invite.png")
	chromium(t, "--screenshot="+shot, "--window-size=820,1400", hs.URL+PagePath+"valid-token-0123456789ab")
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if *update {
		if err := os.WriteFile(screenshot, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
