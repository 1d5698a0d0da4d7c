package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"hearth/server/admin"
	"hearth/storage"
)

// dataDir returns the data directory, absolute, creating it with mode 0700.
func (c *cli) dataDir(flagValue string) (string, error) {
	dir := flagValue
	if dir == "" {
		if xdg := c.getenv("XDG_DATA_HOME"); filepath.IsAbs(xdg) {
			dir = filepath.Join(xdg, "hearth")
		} else if home := c.getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".local", "share", "hearth")
		} else {
			return "", errors.New("no data directory: give --data or set HEARTH_DATA")
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	if err := checkDataDir(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// defaultDomain is <short hostname, lowercased>.local.
func defaultDomain() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, h)
	if h = strings.Trim(h, "-"); h == "" {
		h = "hearth"
	}
	return h + ".local"
}

// storedDomain returns the domain setting, or "" if none is stored.
func storedDomain(ctx context.Context, db *storage.DB) (string, error) {
	d, err := db.Setting(ctx, "domain")
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	return d, err
}

// pickDomain chooses the domain: given (flag or environment), else the
// stored setting, else hint, else the default <hostname>.local. explicit
// reports that it was not the default.
func pickDomain(given, stored, hint string) (domain string, explicit bool, err error) {
	for _, d := range []string{given, stored, hint} {
		if d != "" {
			domain, explicit = d, true
			break
		}
	}
	if domain == "" {
		domain = defaultDomain()
	}
	domain, err = admin.CheckSetting("domain", domain)
	return domain, explicit, err
}

// openData opens the database in the data directory and reads the stored
// domain ("" before the first run).
func openData(ctx context.Context, data string) (*storage.DB, string, error) {
	db, err := storage.Open(ctx, filepath.Join(data, dbName))
	if err != nil {
		return nil, "", err
	}
	stored, err := storedDomain(ctx, db)
	if err != nil {
		db.Close()
		return nil, "", err
	}
	return db, stored, nil
}
