package server_test

import (
	"bufio"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"hearth/server/settings"
	"hearth/server/xmpptest"
)

const benchFile = 50 << 20

// BenchmarkUpload puts a 50 MiB file through a slot over HTTPS on
// loopback (the slot asked for over XMPP each time, outside the timer);
// BenchmarkDownload gets one. Both report MB/s and the process's peak
// resident size during the transfers (server and client are this one
// process; neither holds the file: it is generated and discarded as it
// streams), in MiB.
func BenchmarkUpload(b *testing.B) { benchFiles(b, false) }

func BenchmarkDownload(b *testing.B) { benchFiles(b, true) }

func benchFiles(b *testing.B, download bool) {
	srv := xmpptest.Start(b)
	srv.AddUser(b, "alice", "silver-kettle-pw")
	for k, v := range map[string]string{settings.KeyUploadQuota: "0", settings.KeyUploadDaily: "0"} {
		if _, err := srv.Admin.SetSetting(context.Background(), k, v); err != nil {
			b.Fatal(err)
		}
	}
	alice := srv.Login(b, "alice", "silver-kettle-pw", "pc")
	hc := srv.HTTPClient()
	seq := 0
	slot := func() (put, get string) {
		seq++
		id := "s" + strconv.Itoa(seq)
		alice.Send(`<iq type='get' id='` + id + `' to='upload.hearth.test'><request xmlns='urn:xmpp:http:upload:0' filename='film.mp4' size='` + strconv.Itoa(benchFile) + `' content-type='video/mp4'/></iq>`)
		res := alice.Expect(`<iq type='result' id='` + id + `' from='upload.hearth.test' to='alice@hearth.test/pc'><slot xmlns='urn:xmpp:http:upload:0'>*</slot></iq>`)
		s := res.FirstElement()
		return s.Child("put", "urn:xmpp:http:upload:0").Attr("url"), s.Child("get", "urn:xmpp:http:upload:0").Attr("url")
	}
	putFile := func(url string) {
		req, _ := http.NewRequest("PUT", url, io.LimitReader(rand.NewChaCha8([32]byte{1}), benchFile))
		req.ContentLength = benchFile
		req.Header.Set("Content-Type", "video/mp4")
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("PUT: %s", resp.Status)
		}
	}
	var get string
	if download {
		var put string
		put, get = slot()
		putFile(put)
	}
	idle := rss()
	peak := watchRSS(b)
	b.SetBytes(benchFile)
	b.ResetTimer()
	for range b.N {
		if download {
			resp, err := hc.Get(get)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != benchFile {
				b.Fatalf("GET: %d bytes, %v", n, err)
			}
			continue
		}
		b.StopTimer()
		put, _ := slot()
		b.StartTimer()
		putFile(put)
	}
	b.StopTimer()
	b.ReportMetric(float64(idle)/(1<<20), "idle-RSS-MiB")
	b.ReportMetric(float64(peak())/(1<<20), "peak-RSS-MiB")
}

// watchRSS samples the process's resident size every 5 ms until the
// benchmark ends; the function returned gives the largest seen.
func watchRSS(b *testing.B) func() int64 {
	var max atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r := rss(); r > max.Load() {
				max.Store(r)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	b.Cleanup(func() { close(stop); wg.Wait() })
	return func() int64 { return max.Load() }
}

// rss is the process's resident size (VmRSS), in bytes.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
