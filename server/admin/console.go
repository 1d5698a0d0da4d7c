package admin

import (
	"context"
	"fmt"
	"time"

	"hearth/server/internal/jid"
)

// ConsoleFrame is one top-level element of a watched stream, redacted.
type ConsoleFrame struct {
	At  time.Time
	Dir string // "in": from the client; "out": to it
	XML string
	// Dropped counts the frames lost just before this one because the
	// watcher read too slowly.
	Dropped int `json:",omitempty"`
}

// Directions of a ConsoleFrame.
const (
	DirIn  = "in"
	DirOut = "out"
)

// Console watches one session's stream until ctx is done or the session
// ends.
func (l *Local) Console(ctx context.Context, fullJID string) (<-chan ConsoleFrame, error) {
	j, err := jid.Parse(fullJID)
	if err != nil || j.Resource == "" {
		return nil, invalidf("console: %q is not a full JID", fullJID)
	}
	if l.Live == nil {
		return nil, fmt.Errorf("console %s: %w", j, ErrOffline)
	}
	ch, ok := l.Live.Console(ctx, j.String())
	if !ok {
		return nil, fmt.Errorf("console %s: no such session: %w", j, ErrNotFound)
	}
	return ch, nil
}
