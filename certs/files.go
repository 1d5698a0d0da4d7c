package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// filesPoll is how often files mode looks for new files.
var filesPoll = 2 * time.Second

// files is files mode: the administrator's certificate and key, read again
// when either file changes.
type files struct {
	certFile, keyFile, domain string

	mu          sync.Mutex
	cert        *tls.Certificate
	stamp       string // size and modification times of what was read
	lastAttempt time.Time
	lastError   string
}

// loadFiles reads the pair. A pair that cannot be used (or no pair set)
// does not stop the server: the home CA's certificate stands in, the
// status says which file and why, and the pair is read again once the
// files change.
func loadFiles(certFile, keyFile, domain string) *files {
	f := &files{certFile: certFile, keyFile: keyFile, domain: domain}
	if certFile == "" || keyFile == "" {
		f.lastAttempt, f.stamp = time.Now(), "unset"
		f.lastError = "files mode needs both files: hearth config set tls.cert_file /path/fullchain.pem and " +
			"tls.key_file /path/privkey.pem, then restart Hearth; serving the home CA's certificate meanwhile"
		return f
	}
	f.reload()
	return f
}

// stampOf describes the files' current state.
func (f *files) stampOf() string {
	var s string
	for _, p := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return "missing"
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}

// reload reads the pair; the certificate served stays as it was if the
// new pair cannot be used.
func (f *files) reload() error {
	stamp := f.stampOf()
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err == nil && c.Leaf != nil {
		if verr := c.Leaf.VerifyHostname(f.domain); verr != nil {
			err = fmt.Errorf("%s is not for %s (%v)", f.certFile, f.domain, verr)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAttempt, f.stamp = time.Now(), stamp
	if err != nil {
		if f.cert != nil {
			f.lastError = fmt.Sprintf("%v; still serving the certificate read before", err)
		} else {
			f.lastError = fmt.Sprintf("%v; serving the home CA's certificate until the files are fixed", err)
		}
		return fmt.Errorf("%s and %s: %w", f.certFile, f.keyFile, err)
	}
	f.cert, f.lastError = &c, ""
	return nil
}

func (f *files) get() *tls.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert
}

func (f *files) state() (time.Time, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastAttempt, f.lastError
}

// watchFiles reads the files again whenever they change, until ctx ends.
func (m *Manager) watchFiles(ctx context.Context) {
	t := time.NewTicker(filesPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f := m.files
		f.mu.Lock()
		same := f.stamp == f.stampOf() || f.stamp == "unset"
		f.mu.Unlock()
		if same {
			continue
		}
		if err := f.reload(); err != nil {
			m.log.Warn("the certificate files changed but cannot be used; still serving the old certificate", "err", err)
			continue
		}
		m.log.Info("certificate files read again", "cert", f.certFile)
	}
}
