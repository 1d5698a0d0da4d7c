package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Group commit. SQLite makes a commit durable with an fsync, which takes
// this machine about half a millisecond and an SD card many: one commit per
// message caps offline storage near a thousand messages a second, whatever
// the number of senders. So the writes that must be durable before a
// sender is answered (offline messages, archived messages) and the small
// ones that follow sessions (logouts, deliveries) queue here, and one
// goroutine commits everything queued in one transaction with one sync.
// Each writer waits for its batch, not for the others' syncs.

// ErrBusy means another program held the database's write lock for longer
// than the busy timeout, so a write was not made.
var ErrBusy = errors.New("the database is locked by another program")

// ErrClosed means the database was closed before a write could be made.
var ErrClosed = errors.New("the database is closed")

// maxBatch bounds one transaction, so that a long queue is committed in
// steps and the first writers need not wait for the last.
const maxBatch = 4096

// Queued is a write queued for the next group commit. Done is closed once
// it is committed and synced, or failed; then Err says which.
type Queued struct {
	g     *group // nil: finished as it was queued
	err   error
	id    int64  // the new row, for an insert
	what  string // what the write does, for its errors
	op    func(b *batch) (int64, error)
	after func(id int64, err error)
	// arch is an archive write's message (QueueArchive), which the
	// committer inserts together with the archive writes next to it, and
	// archiveID its id, made as it is queued.
	arch      *archiveMsg
	archiveID int64
}

// Done is closed once the write is durable or failed.
func (p *Queued) Done() <-chan struct{} {
	if p.g == nil {
		return finishedAtOnce
	}
	return p.g.done
}

// finishedAtOnce is the Done of writes finished as they were queued (the
// database was closed).
var finishedAtOnce = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// group is the writes queued between two takes of the committer: they
// commit together (or, past maxBatch, in the next batches too) and share
// one channel, closed when the last of them is finished, instead of a
// channel each: a group commit finishes thousands of writes at once.
type group struct {
	done chan struct{}
	// n is how many writes joined (under the committer's mu, final once
	// the group was taken); finished how many are finished (the
	// committer's goroutine alone). No shared counter: thousands of
	// writers bumped one.
	n, finished int
}

// Err is the write's error once Done is closed: nil if it is durable.
func (p *Queued) Err() error { return p.err }

// Wait waits until the write is durable or failed and returns Err. It is
// bounded by the busy timeout: a write the database cannot take fails.
func (p *Queued) Wait() error {
	<-p.Done()
	return p.err
}

// ID is the new row's ID for a durable insert.
func (p *Queued) ID() int64 { return p.id }

// committer is the group commit goroutine and its queue.
type committer struct {
	db      *DB
	mu      sync.Mutex
	queue   []*Queued
	closed  bool
	wake    chan struct{}
	stopped chan struct{}
	cur     *group // the group writes join as they queue (guarded by mu)

	// lastArchiveID is the last archive id made (guarded by mu).
	lastArchiveID int64

	// blocks are the archive's block buffers, prepared its statements
	// and index the runs waiting for the index: the committer's alone.
	blocks   blockBuf
	prepared prepared
	index    indexQueue
	// unindexed is how many ids wait for the index, for readers.
	unindexed atomic.Int64
	// scratch is what a batch works in, kept for the next.
	scratch struct {
		ids     []int64
		errs    []error
		entries []logEntry
		runs    runLists
		spare   []*Queued // a queue's array, for the next queue
	}

	// figures, for benchmarks and status
	batches, writes atomic.Int64
}

// newCommitter starts the group commit; lastArchiveID is the highest
// archive id in the database.
func newCommitter(db *DB, lastArchiveID int64) *committer {
	c := &committer{db: db, wake: make(chan struct{}, 1), stopped: make(chan struct{}), lastArchiveID: lastArchiveID}
	c.index.every, c.index.atOnce = indexEvery, indexAtOnce
	go c.run()
	return c
}

// enqueue queues a write, described by what for its errors. op runs in
// the batch's transaction and returns the new row's ID, if any; its errors
// ErrNotFound and ErrQuota, and constraint violations, fail it alone.
// after, if not nil, runs once the write is durable or failed, before
// Done is closed, on the committer's goroutine (or, when the database is
// closed already, on the caller's, before enqueue returns): it must not
// block, nor take a lock the caller may hold.
func (c *committer) enqueue(what string, op func(b *batch) (int64, error), after func(int64, error)) *Queued {
	return c.push(&Queued{what: what, op: op, after: after})
}

func (c *committer) push(p *Queued) *Queued {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		p.finish(0, ErrClosed)
		return p
	}
	if p.arch != nil {
		// Ids in the order of the queue, so in the order of the commits.
		c.lastArchiveID = max(c.lastArchiveID+1, ArchiveID(time.Now()))
		p.archiveID = c.lastArchiveID
	}
	if c.cur == nil {
		c.cur = &group{done: make(chan struct{})}
	}
	p.g = c.cur
	p.g.n++
	c.queue = append(c.queue, p)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return p
}

func (p *Queued) finish(id int64, err error) {
	if err != nil {
		err = fmt.Errorf("%s: %w", p.what, err)
	}
	if p.arch != nil && p.arch.buf != nil {
		// The message is in its block, or SQLite copied it.
		putStanzaBuffer(p.arch.buf)
		p.arch.buf, p.arch.stanza = nil, nil
	}
	p.id, p.err, p.op, p.arch = id, err, nil, nil
	if p.after != nil {
		p.after(id, err)
		p.after = nil
	}
	// Every write of the group was taken, so none joins it any more, and
	// only the committer finishes them.
	if p.g != nil {
		if p.g.finished++; p.g.finished == p.g.n {
			close(p.g.done)
		}
	}
}

// close commits what is queued, refuses what comes later, and waits for
// the goroutine to end.
func (c *committer) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	<-c.stopped
}

func (c *committer) run() {
	defer close(c.stopped)
	defer c.prepared.close()
	last := 0 // the last batch's writes
	for {
		if last >= lingerAfter {
			c.mu.Lock()
			short := len(c.queue) < lingerTarget && !c.closed
			c.mu.Unlock()
			if short {
				time.Sleep(linger)
			}
		}
		c.mu.Lock()
		n := min(len(c.queue), maxBatch)
		q := c.queue[:n:n]
		c.queue = c.queue[n:]
		c.cur = nil // what queues from now on is a group of its own
		if len(c.queue) == 0 {
			// The next writes queue in the array of the batch before
			// (spare), this one's goes back once it is committed.
			c.queue = c.scratch.spare[:0]
			c.scratch.spare = nil
		}
		closed := c.closed
		c.mu.Unlock()
		if len(q) == 0 {
			last = 0 // idle: the next write commits at once
			if c.index.runs.n > 0 {
				// Runs wait for the index: they go when due, or
				// before the committer stops.
				if !closed {
					wait := time.NewTimer(time.Until(c.index.since.Add(c.index.every)))
					select {
					case <-c.wake:
						wait.Stop()
						continue
					case <-wait.C:
					}
				}
				f := &Queued{what: "index archived messages", op: flushIndexOp}
				c.commit([]*Queued{f})
				switch {
				case f.err != nil && closed:
					return // Open indexes what the log holds past the index
				case f.err != nil:
					c.index.since = time.Now() // tried again after every
				}
				continue
			}
			if closed {
				return
			}
			<-c.wake
			continue
		}
		c.commit(q)
		last = len(q)
		clear(q)
		c.mu.Lock()
		if c.scratch.spare == nil {
			c.scratch.spare = q[:0]
		}
		c.mu.Unlock()
	}
}

// Under load a commit takes what queued while the one before ran: a few
// hundred writes. Every commit costs the same fixed work besides its
// writes (a sync, the index's pages, a checkpoint's share), so while the
// last batch was not small the committer lets the next grow for linger
// first, unless lingerTarget writes wait already. A write on a quiet
// server commits at once.
const (
	lingerAfter  = 64
	lingerTarget = 4096
	linger       = 3 * time.Millisecond
)

// commit runs a batch in one IMMEDIATE transaction. A write that fails on
// a constraint (its user was deleted) fails alone: SQLite undoes just that
// statement. Any other error, or a failed commit, fails the whole batch,
// since SQLite may have rolled the transaction back on its own.
func (c *committer) commit(q []*Queued) {
	// The batch's results, in arrays kept from batch to batch: a batch
	// of thousands made them large, and new large arrays for every
	// commit were a good part of the collector's work.
	c.scratch.ids = slices.Grow(c.scratch.ids[:0], len(q))[:len(q)]
	c.scratch.errs = slices.Grow(c.scratch.errs[:0], len(q))[:len(q)]
	ids, errs := c.scratch.ids, c.scratch.errs
	defer clear(errs)
	clear(ids)
	err := c.transact(func(b *batch) error {
		for i := 0; i < len(q); {
			// Archive writes next to each other go in together
			// (archive.go); one for an account that is gone fails
			// alone.
			if n := archiveRun(q[i:]); n > 0 {
				if err := b.archive(q[i:i+n], errs[i:i+n]); err != nil {
					return err
				}
				for j := i; j < i+n; j++ {
					ids[j] = q[j].archiveID
				}
				i += n
				continue
			}
			p := q[i]
			ids[i], errs[i] = p.op(b)
			if b.indexFailed != nil {
				return b.indexFailed // never an op's failure alone
			}
			// ErrNotFound, ErrQuota and ErrExists are answers an op
			// gives before it writes: they fail it alone.
			if errs[i] != nil && !constraint(errs[i]) && !errors.Is(errs[i], ErrNotFound) && !errors.Is(errs[i], ErrQuota) &&
				!errors.Is(errs[i], ErrExists) {
				return errs[i]
			}
			i++
		}
		return nil
	})
	c.batches.Add(1)
	c.writes.Add(int64(len(q)))
	for i, p := range q {
		switch {
		case err != nil:
			p.finish(0, err)
		default:
			p.finish(ids[i], errs[i])
		}
	}
}

// transact runs fn in a write transaction with prepared statements shared
// by the batch.
func (c *committer) transact(fn func(b *batch) error) error {
	// The busy timeout bounds the wait for another program's lock; no
	// context: a batch that began is finished, even at shutdown.
	ctx := context.Background()
	tx, err := c.db.w.BeginTx(ctx, nil)
	if err != nil {
		return dbError(err)
	}
	c.blocks.reset()
	c.scratch.runs.reset()
	b := &batch{tx: tx, ctx: ctx, blocks: &c.blocks, prepared: &c.prepared, index: &c.index, runs: &c.scratch.runs, entries: &c.scratch.entries}
	defer c.prepared.keep(c.db.w)
	defer b.close()
	err = fn(b)
	now := time.Now()
	if err == nil && c.index.due(now, b.runs.n) {
		err = b.flushIndex()
	}
	if err != nil {
		tx.Rollback()
		return dbError(err)
	}
	if err := tx.Commit(); err != nil {
		return dbError(err)
	}
	// The index has what this batch wrote to it; what is left waits.
	if b.indexed {
		c.index.runs.reset() // the arrays stay for the next runs
	}
	c.index.merge(b.runs, now)
	c.unindexed.Store(int64(c.index.runs.n))
	return nil
}

// dbError names a lock held by another program.
func dbError(err error) error {
	if busy(err) {
		return fmt.Errorf("%w (waited %s)", ErrBusy, time.Duration(busyTimeout)*time.Millisecond)
	}
	return err
}

// busy reports SQLITE_BUSY, whatever its extended code.
func busy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// constraint reports a constraint violation of one statement.
func constraint(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

// batch is a group commit's transaction, with its statements prepared once.
type batch struct {
	tx       *sql.Tx
	ctx      context.Context
	stmts    map[string]*sql.Stmt
	blocks   *blockBuf
	prepared *prepared
	// index is the runs earlier batches left for the index; runs are
	// this batch's, not yet in it; indexed says the batch wrote index's
	// (archive_defer.go).
	index   *indexQueue
	runs    *runLists
	indexed bool
	// indexFailed is a failed write of the index, which fails the
	// batch; savepoint says an op is inside one (flushIndex).
	indexFailed error
	savepoint   bool
	// entries is the archive's messages of a run of writes (archive),
	// the committer's array.
	entries *[]logEntry
}

// prepared are the group commit's statements, prepared once on the
// writing connection and used by every batch after: preparing a dozen
// statements per commit cost more than some of the writes.
type prepared struct {
	stmts  map[string]*sql.Stmt
	missed []string // queries the last batch prepared for itself alone
}

// maxPrepared bounds the statements kept (queries are constants, so this
// is never reached unless one is built from data by mistake).
const maxPrepared = 512

// keep prepares the queries the last batch missed, between transactions:
// the writing connection is the pool's one, held by a transaction.
func (p *prepared) keep(w *sql.DB) {
	for _, q := range p.missed {
		if p.stmts == nil {
			p.stmts = make(map[string]*sql.Stmt)
		}
		if p.stmts[q] != nil || len(p.stmts) >= maxPrepared {
			continue
		}
		if s, err := w.Prepare(q); err == nil {
			p.stmts[q] = s
		}
	}
	p.missed = p.missed[:0]
}

func (p *prepared) close() {
	for _, s := range p.stmts {
		s.Close()
	}
}

func (b *batch) stmt(query string) (*sql.Stmt, error) {
	if s := b.stmts[query]; s != nil {
		return s, nil
	}
	var s *sql.Stmt
	if ps := b.prepared.stmts[query]; ps != nil {
		s = b.tx.StmtContext(b.ctx, ps) // prepared on this connection already
	} else {
		var err error
		if s, err = b.tx.PrepareContext(b.ctx, query); err != nil {
			return nil, err
		}
		b.prepared.missed = append(b.prepared.missed, query)
	}
	if b.stmts == nil {
		b.stmts = make(map[string]*sql.Stmt)
	}
	b.stmts[query] = s
	return s, nil
}

func (b *batch) exec(query string, args ...any) (sql.Result, error) {
	s, err := b.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(b.ctx, args...)
}

func (b *batch) close() {
	for _, s := range b.stmts {
		s.Close()
	}
}

// CommitStats are the group commit's counts since the database was opened.
type CommitStats struct {
	Batches, Writes int64
}

// CommitStats returns the group commit's counts.
func (db *DB) CommitStats() CommitStats {
	return CommitStats{Batches: db.commit.batches.Load(), Writes: db.commit.writes.Load()}
}
