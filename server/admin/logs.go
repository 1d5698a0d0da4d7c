package admin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// LogRecord is one record of the server's log.
type LogRecord struct {
	Seq     uint64 // 1, 2, ... in the order the records were made
	Time    time.Time
	Level   string // DEBUG, INFO, WARN, ERROR
	Message string
	Attrs   []LogAttr `json:",omitempty"`
	// Dropped counts the records a live watcher lost just before this
	// one because it read too slowly.
	Dropped int `json:",omitempty"`
}

// LogAttr is one key and value of a record, groups joined with dots.
type LogAttr struct{ Key, Value string }

// DefaultLogRecords is how many recent records a LogRing keeps.
const DefaultLogRecords = 2000

// LogRing keeps the most recent log records for the admin window and
// hands new ones to watchers; a watcher that reads too slowly loses
// records (counted) rather than slowing whoever logs.
type LogRing struct {
	mu   sync.Mutex
	recs []LogRecord // a ring of cap size
	head int         // index of the oldest record once full
	seq  uint64
	subs map[chan LogRecord]*int // the records each watcher lost since its last
}

// NewLogRing returns a ring that keeps size records (DefaultLogRecords
// when size <= 0).
func NewLogRing(size int) *LogRing {
	if size <= 0 {
		size = DefaultLogRecords
	}
	return &LogRing{recs: make([]LogRecord, 0, size), subs: map[chan LogRecord]*int{}}
}

func (r *LogRing) add(rec LogRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	rec.Seq = r.seq
	if len(r.recs) < cap(r.recs) {
		r.recs = append(r.recs, rec)
	} else {
		r.recs[r.head] = rec
		r.head = (r.head + 1) % len(r.recs)
	}
	for ch, lost := range r.subs {
		rec.Dropped = *lost
		select {
		case ch <- rec:
			*lost = 0
		default:
			*lost++
		}
	}
}

// Since returns the records kept with a Seq greater than seq, oldest
// first.
func (r *LogRing) Since(seq uint64) []LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []LogRecord
	for i := range r.recs {
		rec := r.recs[(r.head+i)%len(r.recs)]
		if rec.Seq > seq {
			out = append(out, rec)
		}
	}
	return out
}

// Subscribe returns a channel of the records made from now until ctx is
// done; it is closed then.
func (r *LogRing) Subscribe(ctx context.Context) <-chan LogRecord {
	ch := make(chan LogRecord, hubBuffer*4)
	r.mu.Lock()
	r.subs[ch] = new(int)
	r.mu.Unlock()
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		close(ch)
		r.mu.Unlock()
	})
	return ch
}

// Handler returns a slog.Handler that adds records at level or above to
// the ring.
func (r *LogRing) Handler(level slog.Leveler) slog.Handler {
	return &ringHandler{ring: r, level: level}
}

type ringHandler struct {
	ring   *LogRing
	level  slog.Leveler
	attrs  []LogAttr // from WithAttrs, keys already grouped
	prefix string    // the open groups, "a.b."
}

func (h *ringHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *ringHandler) Handle(_ context.Context, rec slog.Record) error {
	out := LogRecord{Time: rec.Time, Level: rec.Level.String(), Message: rec.Message,
		Attrs: append([]LogAttr(nil), h.attrs...)}
	rec.Attrs(func(a slog.Attr) bool {
		out.Attrs = appendAttr(out.Attrs, h.prefix, a)
		return true
	})
	h.ring.add(out)
	return nil
}

func (h *ringHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]LogAttr(nil), h.attrs...)
	for _, a := range as {
		n.attrs = appendAttr(n.attrs, h.prefix, a)
	}
	return &n
}

func (h *ringHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.prefix = h.prefix + name + "."
	return &n
}

// appendAttr flattens a into keys with dots.
func appendAttr(out []LogAttr, prefix string, a slog.Attr) []LogAttr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			out = appendAttr(out, p, g)
		}
		return out
	}
	if a.Key == "" {
		return out
	}
	return append(out, LogAttr{Key: prefix + a.Key, Value: v.String()})
}

// LogTee returns a handler that hands every record to each of hs that is
// enabled for its level.
func LogTee(hs ...slog.Handler) slog.Handler { return tee(hs) }

type tee []slog.Handler

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range t {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (t tee) Handle(ctx context.Context, rec slog.Record) error {
	var errs []error
	for _, h := range t {
		if h.Enabled(ctx, rec.Level) {
			errs = append(errs, h.Handle(ctx, rec.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(tee, len(t))
	for i, h := range t {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (t tee) WithGroup(name string) slog.Handler {
	out := make(tee, len(t))
	for i, h := range t {
		out[i] = h.WithGroup(name)
	}
	return out
}

// Logs returns the recent records with a Seq greater than since; none
// when no server runs in this process.
func (l *Local) Logs(ctx context.Context, since uint64) ([]LogRecord, error) {
	if l.LogRing == nil {
		return nil, nil
	}
	return l.LogRing.Since(since), nil
}

// WatchLogs delivers new records until ctx is done.
func (l *Local) WatchLogs(ctx context.Context) <-chan LogRecord {
	if l.LogRing == nil {
		ch := make(chan LogRecord)
		context.AfterFunc(ctx, func() { close(ch) })
		return ch
	}
	return l.LogRing.Subscribe(ctx)
}
