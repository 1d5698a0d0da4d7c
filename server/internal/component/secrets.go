package component

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"hearth/internal/atomicfile"
	"hearth/server/internal/jid"
	"hearth/server/internal/stanza"
)

// FileName is the file in the data directory that holds the components'
// secrets, mode 0600 (a backup takes it with the other *.secret files).
// The handshake (XEP-0114) hashes the secret with the stream's id, so the
// server must keep the secret itself, not a hash of it.
const FileName = "components.secret"

// Errors of the store.
var (
	ErrExists   = errors.New("a component of that name is configured already")
	ErrNotFound = errors.New("no component of that name is configured")
)

// Entry is one configured component.
type Entry struct {
	Name    string    `json:"name"` // its domain, e.g. bot.example.org
	Secret  string    `json:"secret"`
	Created time.Time `json:"created"`
}

// Store keeps the components' names and secrets in the data directory.
// It reads the file at each call, so that the command line and a running
// server see each other's changes; writes are whole or not at all.
type Store struct {
	path string
	mu   sync.Mutex
}

// StoreIn returns the store of the data directory dir.
func StoreIn(dir string) *Store { return &Store{path: filepath.Join(dir, FileName)} }

// Name normalises a component's name: a bare word is a subdomain of
// domain (bot: bot.example.org); anything else must be a domain other
// than domain itself.
func Name(name, domain string) (string, error) {
	name = strings.TrimSpace(name)
	if name != "" && !strings.Contains(name, ".") {
		name += "." + domain
	}
	j, err := jid.Parse(name)
	if err != nil || !j.IsDomain() || name == "" {
		return "", fmt.Errorf("%q is not a name a component can have: give a word (bot, for bot.%s) or a domain name", name, domain)
	}
	if d, err := jid.Parse(domain); err == nil && j.Domain == d.Domain {
		return "", fmt.Errorf("%s is the server's own domain; a component needs a name of its own, such as bot.%s", j.Domain, d.Domain)
	}
	return j.Domain, nil
}

// List returns the configured components, by name.
func (s *Store) List() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read()
}

// Lookup returns the entry of name.
func (s *Store) Lookup(name string) (Entry, error) {
	all, err := s.List()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range all {
		if e.Name == name {
			return e, nil
		}
	}
	return Entry{}, ErrNotFound
}

// Add configures a component with a new random secret and returns it.
func (s *Store) Add(name string, now time.Time) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.read()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range all {
		if e.Name == name {
			return Entry{}, ErrExists
		}
	}
	// 192 random bits in hex: nothing a shell, a configuration file or a
	// program's option parser reads otherwise (no leading '-').
	e := Entry{Name: name, Secret: stanza.RandomID(24), Created: now.UTC().Truncate(time.Second)}
	all = append(all, e)
	return e, s.write(all)
}

// Remove forgets a component.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.read()
	if err != nil {
		return err
	}
	i := slices.IndexFunc(all, func(e Entry) bool { return e.Name == name })
	if i < 0 {
		return ErrNotFound
	}
	return s.write(slices.Delete(all, i, i+1))
}

func (s *Store) read() ([]Entry, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the components' secrets: %w", err)
	}
	var all []Entry
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("the components' secrets in %s cannot be read (%v); remove the file and add the components again", s.path, err)
	}
	slices.SortFunc(all, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

func (s *Store) write(all []Entry) error {
	if all == nil {
		all = []Entry{}
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(s.path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("keep the components' secrets in %s: %w", s.path, err)
	}
	return nil
}
