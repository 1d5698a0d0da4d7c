package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

// TestUploadSettingsLive: upload.quota_bytes, upload.daily_bytes,
// upload.expiry and http.public_url, changed on a running server, apply
// to the next slot or file.
func TestUploadSettingsLive(t *testing.T) {
	ctx := context.Background()
	srv := xmpptest.Start(t)
	srv.AddUser(t, "alice", "silver-kettle-pw")
	alice := srv.Login(t, "alice", "silver-kettle-pw", "pc")
	set := func(k, v string) {
		t.Helper()
		if _, err := srv.Admin.SetSetting(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	// slot asks for a slot of size bytes and returns its PUT URL, or ""
	// and the error condition's text.
	slot := func(size int) (put, get, refused string) {
		t.Helper()
		n++
		alice.Send(fmt.Sprintf(`<iq type='get' id='s%d' to='upload.hearth.test'><request xmlns='urn:xmpp:http:upload:0' filename='f%d.txt' size='%d' content-type='text/plain'/></iq>`, n, n, size))
		res := alice.Next()
		if res.Name != "iq" || res.Attr("id") != fmt.Sprintf("s%d", n) {
			t.Fatalf("wanted the answer to slot request s%d, got %s", n, res)
		}
		if res.Attr("type") != "result" {
			return "", "", res.String()
		}
		s := res.FirstElement()
		return s.Child("put", "urn:xmpp:http:upload:0").Attr("url"), s.Child("get", "urn:xmpp:http:upload:0").Attr("url"), ""
	}
	hc := srv.HTTPClient()
	upload := func(size int) {
		t.Helper()
		put, _, refused := slot(size)
		if refused != "" {
			t.Fatalf("a slot of %d bytes refused: %s", size, refused)
		}
		req, _ := http.NewRequest("PUT", put, bytes.NewReader(bytes.Repeat([]byte("x"), size)))
		req.Header.Set("Content-Type", "text/plain")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %s", resp.Status)
		}
	}

	set(settings.KeyUploadQuota, "5000")
	upload(4000)
	if _, _, refused := slot(2000); !strings.Contains(refused, "resource-constraint") {
		t.Fatalf("over upload.quota_bytes 5000: %s", refused)
	}
	set(settings.KeyUploadQuota, "0") // no limit
	set(settings.KeyUploadDaily, "6000")
	if _, _, refused := slot(2500); !strings.Contains(refused, "resource-constraint") {
		t.Fatalf("over upload.daily_bytes 6000 after 4000 today: %s", refused)
	}
	set(settings.KeyUploadDaily, "0")
	upload(2500)

	set(settings.KeyPublicURL, "https://files.example.org/chat")
	if put, get, _ := slot(10); !strings.HasPrefix(put, "https://files.example.org/chat/upload/") || !strings.HasPrefix(get, "https://files.example.org/chat/upload/") {
		t.Fatalf("with http.public_url set: put %s get %s", put, get)
	}
	set(settings.KeyPublicURL, "")

	// Files uploaded under a short upload.expiry go at the next purge of
	// expired files; those uploaded before stay.
	set(settings.KeyUploadExpiry, "1s")
	upload(100)
	time.Sleep(1500 * time.Millisecond)
	res, err := srv.Admin.PurgeUploads(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 1 || res.Bytes != 100 {
		t.Fatalf("purging expired files after upload.expiry 1s deleted %+v, want the one file of 100 bytes", res)
	}
}
