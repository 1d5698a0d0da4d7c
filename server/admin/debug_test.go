package admin

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// TestDebug: the debug views over the socket give profiles in pprof's
// format and the goroutine dump, and refuse what they cannot give.
func TestDebug(t *testing.T) {
	ctx := t.Context()
	c := serve(t, newLocal(t)).(*Client)

	for _, name := range Profiles {
		if name == "cpu" {
			continue
		}
		var b bytes.Buffer
		if err := c.Profile(ctx, name, 0, &b); err != nil {
			t.Errorf("profile %s: %v", name, err)
			continue
		}
		zr, err := gzip.NewReader(&b)
		if err != nil {
			t.Errorf("profile %s: %v", name, err)
			continue
		}
		if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
			t.Errorf("profile %s: %d bytes, %v", name, n, err)
		}
	}

	var dump bytes.Buffer
	if err := c.Goroutines(ctx, &dump); err != nil || !strings.Contains(dump.String(), "goroutine ") {
		t.Errorf("goroutines: %v\n%s", err, dump.String())
	}

	for _, tt := range []struct {
		name    string
		seconds int
	}{{"bogus", 0}, {"../Info", 0}, {"cpu", 0}, {"cpu", MaxCPUSeconds + 1}} {
		var b bytes.Buffer
		err := c.Profile(ctx, tt.name, tt.seconds, &b)
		if !errors.Is(err, ErrInvalid) || b.Len() != 0 {
			t.Errorf("profile %s for %d s: %v, %d bytes; want ErrInvalid and nothing", tt.name, tt.seconds, err, b.Len())
		}
	}

	// One CPU profile at a time: of two at once, one is refused.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	sizes := make([]int, 2)
	for i := range errs {
		wg.Go(func() {
			var b bytes.Buffer
			errs[i] = c.Profile(ctx, "cpu", 1, &b)
			sizes[i] = b.Len()
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil && sizes[i] > 0:
			ok++
		case err != nil && !strings.Contains(err.Error(), "being taken already"):
			t.Errorf("cpu profile: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of two CPU profiles at once were taken, want 1: %v", ok, errs)
	}
}
