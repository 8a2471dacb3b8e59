// Package journal keeps a tuning study in an append-only log that survives crashes and is
// shared by workers on one or many machines: a local file (JSON lines, one flock'd, fsync'd
// append per transaction) or a blob store (s3://, gs://, azblob://: numbered segment objects
// created with conditional writes, plus periodic snapshots).
//
// Every line carries a CRC-32C of its record; a line that fails it (a torn last write, damage)
// is skipped and reported, never misread. A change counts only once it is durable: fsync'd for
// a file, a completed conditional create for a blob store. Workers change the study only
// through Update, which replays what others appended, lets the caller decide on the current
// state, and appends its records atomically, so two workers never claim the same trial
// number, grid point or budget slot.
package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

var (
	// ErrNotFound reports a journal that does not exist yet.
	ErrNotFound = errors.New("no journal")
	// ErrOtherStudy reports a journal that belongs to another study.
	ErrOtherStudy = errors.New("journal belongs to another study")
	// ErrPermission reports storage the process may not write.
	ErrPermission = errors.New("no permission")
	// errConflict reports that another writer appended first (blob stores); Update retries.
	errConflict = errors.New("conflicting append")
)

// backend stores the raw lines.
type backend interface {
	// lock gives this process exclusive (or shared) access until unlock; blob stores need none.
	lock(ctx context.Context, exclusive bool) (unlock func(), err error)
	// read returns the complete lines after cursor and the cursor after them; a trailing partial
	// line (file) is reported through torn.
	read(ctx context.Context, cursor int64) (lines []line, next int64, torn *tornLine, err error)
	// commit appends lines after cursor, which must be the end of the log (errConflict if it
	// is no longer).
	commit(ctx context.Context, cursor int64, data []byte) error
	// exists reports whether anything was ever written.
	exists(ctx context.Context) (bool, error)
	close() error
}

// line is one raw journal line and where it is, for messages.
type line struct {
	data   []byte
	offset int64  // identifies the line (byte offset, or segment and line number)
	where  string // "line 12" or "segment 000000000042"
}

// tornLine is a partial last line: a writer died mid-append (or is still writing, when the
// reader holds no lock).
type tornLine struct {
	offset int64
	size   int
}

// Options tune a journal. Zero values pick the defaults.
type Options struct {
	// ReadOnly opens the journal for status and export: nothing is created or appended.
	ReadOnly bool
	// Now returns the current time; tests pin it. Defaults to time.Now.
	Now func() time.Time
	// SnapshotEvery is how many blob segments pass between snapshots (default 500).
	SnapshotEvery int
}

// Journal is an open study journal. It is safe for concurrent use by the goroutines of one
// process; other processes coordinate through the storage.
type Journal struct {
	mu       sync.Mutex
	loc      string // for messages, credentials removed
	b        backend
	opts     Options
	cursor   int64
	st       *study.Study
	info     StudyInfo
	running  map[string][]*study.Trial // worker → its RUNNING trials
	warnings []string
	reported map[int64]bool // torn line offsets already reported
	records  int
}

// Open opens the journal at location: a file path, a file:// URL, or a blob URL (s3://, gs://,
// azblob://, mem://). It reads nothing yet.
func Open(ctx context.Context, location string, opts Options) (*Journal, error) {
	j := newJournal(location, opts)
	opts = j.opts
	u, err := url.Parse(location)
	switch {
	case err == nil && u.Scheme != "" && u.Scheme != "file" && len(u.Scheme) > 1:
		b, err := openBlob(ctx, location, opts)
		if err != nil {
			return nil, err
		}
		j.b, j.loc = b, b.display
	default:
		path := location
		if err == nil && u.Scheme == "file" {
			if u.Host != "" && u.Host != "localhost" {
				return nil, fmt.Errorf("journal %s: a file URL is file:///absolute/path", location)
			}
			path = u.Path
		}
		b, err := openFile(path, opts.ReadOnly)
		if err != nil {
			return nil, err
		}
		j.b = b
	}
	return j, nil
}

func newJournal(location string, opts Options) *Journal {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SnapshotEvery <= 0 {
		opts.SnapshotEvery = 500
	}
	return &Journal{loc: location, opts: opts, running: map[string][]*study.Trial{}, reported: map[int64]bool{}}
}

// Location is where the journal lives, for messages.
func (j *Journal) Location() string { return j.loc }

// Close releases the storage.
func (j *Journal) Close() error { return j.b.close() }

// Warnings returns the problems met while loading (skipped lines and records), once each.
func (j *Journal) Warnings() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	w := j.warnings
	j.warnings = nil
	return w
}

// Records is the number of records replayed so far.
func (j *Journal) Records() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.records
}

// Info is the study record (zero before it is loaded).
func (j *Journal) Info() StudyInfo {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.info
}

// View replays what was appended since the last call and runs fn on the study (nil when the
// journal holds no study yet). fn must not keep the study or its trials after it returns.
func (j *Journal) View(ctx context.Context, fn func(*study.Study) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	unlock, err := j.b.lock(ctx, false)
	if err != nil {
		return err
	}
	err = j.sync(ctx)
	unlock()
	if err != nil {
		return err
	}
	return fn(j.st)
}

// Load replays the whole journal and returns the study; ErrNotFound when there is none.
func (j *Journal) Load(ctx context.Context) (*study.Study, error) {
	var st *study.Study
	err := j.View(ctx, func(s *study.Study) error { st = s; return nil })
	if err != nil {
		return nil, err
	}
	if st == nil {
		if ok, err := j.b.exists(ctx); err == nil && ok {
			return nil, fmt.Errorf("journal %s holds no valid study record: it is not an mlops tune journal, or its first line is damaged", j.loc)
		}
		return nil, fmt.Errorf("%w at %s: run `mlops tune run` on the study first", ErrNotFound, j.loc)
	}
	return st, nil
}

// Update replays what others appended, calls fn with the current study (nil before the study
// record exists) and durably appends the records fn returns, all under the journal's write
// lock (file) or as one conditional create (blob store; fn is called again if another worker
// appended first, so it must decide from the study alone). Nothing is appended when fn returns
// no records or an error. fn must not call the journal's methods.
func (j *Journal) Update(ctx context.Context, fn func(*study.Study) ([]Record, error)) error {
	if j.opts.ReadOnly {
		return fmt.Errorf("journal %s is open read-only", j.loc)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for attempt := 0; ; attempt++ {
		unlock, err := j.b.lock(ctx, true)
		if err != nil {
			return err
		}
		if err := j.sync(ctx); err != nil {
			unlock()
			return err
		}
		recs, err := fn(j.st)
		if err != nil || len(recs) == 0 {
			unlock()
			return err
		}
		var buf bytes.Buffer
		now := j.opts.Now()
		for _, r := range recs {
			if r.Time.IsZero() {
				r.Time = now
			}
			line, err := encodeLine(r)
			if err != nil {
				unlock()
				return err
			}
			buf.Write(line)
		}
		err = j.b.commit(ctx, j.cursor, buf.Bytes())
		if errors.Is(err, errConflict) {
			unlock()
			if err := backoff(ctx, attempt); err != nil {
				return err
			}
			continue
		}
		if err == nil {
			err = j.sync(ctx) // replays our own records too
		}
		unlock()
		return err
	}
}

// sync reads and applies everything after the cursor. The caller holds the storage lock, so a
// partial last line is torn, not being written.
func (j *Journal) sync(ctx context.Context) error {
	lines, next, torn, err := j.b.read(ctx, j.cursor)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if len(bytes.TrimSpace(l.data)) == 0 {
			continue
		}
		r, err := decodeLine(l.data)
		if err != nil {
			if !j.reported[l.offset] {
				j.reported[l.offset] = true
				j.warnf("%s: %s: record skipped: %v", j.loc, l.where, err)
			}
			continue
		}
		j.records++
		j.apply(r, l.where)
	}
	j.cursor = next
	if torn != nil && !j.reported[torn.offset] {
		j.reported[torn.offset] = true
		j.warnf("%s: the last line (%d bytes at byte %d) is incomplete: a writer stopped mid-write; it is ignored", j.loc, torn.size, torn.offset)
	}
	return nil
}

// backoff sleeps before retry attempt n with jitter, or returns early on cancel.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1<<min(n, 6)) * 2 * time.Millisecond
	d += time.Duration(rand.Int64N(int64(d)))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// redact removes credentials from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	return strings.TrimSuffix(u.String(), "?")
}
