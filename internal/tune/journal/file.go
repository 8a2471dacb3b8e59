package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fileBackend is a journal in one local (or NFS) file. Writers take an exclusive flock on the
// file itself for the whole read-decide-append transaction; readers take a shared one. The
// kernel drops the lock when a process dies, so a crash never leaves a stale lock behind (no
// lock file to clean up). An append seals a torn last line with a newline first, so the torn
// bytes stay a separate, skipped line instead of corrupting the next record.
type fileBackend struct {
	path string
	f    *os.File
	ro   bool
}

func openFile(path string, readOnly bool) (*fileBackend, error) {
	if path == "" {
		return nil, fmt.Errorf("journal: empty storage path")
	}
	if readOnly {
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s: run `mlops tune run` on the study first", ErrNotFound, path)
		}
		if err != nil {
			return nil, fmt.Errorf("open journal: %w", err)
		}
		return &fileBackend{path: path, f: f, ro: true}, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("journal %s: create its folder: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if errors.Is(err, fs.ErrPermission) {
		return nil, fmt.Errorf("%w to write the journal %s: check the file's and folder's permissions", ErrPermission, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	return &fileBackend{path: path, f: f}, nil
}

func (b *fileBackend) close() error { return b.f.Close() }

func (b *fileBackend) exists(context.Context) (bool, error) {
	st, err := b.f.Stat()
	return err == nil && st.Size() > 0, err
}

// lock polls a non-blocking flock so that a cancelled context (Ctrl-C) is never stuck behind a
// stopped process holding the lock.
func (b *fileBackend) lock(ctx context.Context, exclusive bool) (func(), error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	wait := 200 * time.Microsecond
	for {
		err := unix.Flock(int(b.f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { _ = unix.Flock(int(b.f.Fd()), unix.LOCK_UN) }, nil // closing the file releases it anyway
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			return nil, fmt.Errorf("lock journal %s: %w", b.path, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

func (b *fileBackend) read(_ context.Context, cursor int64) ([]line, int64, *tornLine, error) {
	st, err := b.f.Stat()
	if err != nil {
		return nil, cursor, nil, fmt.Errorf("read journal %s: %w", b.path, err)
	}
	size := st.Size()
	if size < cursor {
		return nil, cursor, nil, fmt.Errorf("journal %s shrank from %d to %d bytes: it was truncated or replaced by another file; journals are append-only", b.path, cursor, size)
	}
	if size == cursor {
		return nil, cursor, nil, nil
	}
	data := make([]byte, size-cursor)
	if _, err := b.f.ReadAt(data, cursor); err != nil && err != io.EOF {
		return nil, cursor, nil, fmt.Errorf("read journal %s: %w", b.path, err)
	}
	var lines []line
	off := cursor
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return lines, off, &tornLine{offset: off, size: len(data)}, nil
		}
		lines = append(lines, line{data: data[:i], offset: off, where: fmt.Sprintf("byte %d", off)})
		off += int64(i + 1)
		data = data[i+1:]
	}
	return lines, off, nil, nil
}

// commit appends data after fsync'ing nothing else: under the exclusive lock the file ends at
// cursor, except for a torn last line, which gets its newline first.
func (b *fileBackend) commit(_ context.Context, cursor int64, data []byte) error {
	st, err := b.f.Stat()
	if err != nil {
		return fmt.Errorf("append to journal %s: %w", b.path, err)
	}
	if st.Size() > cursor {
		var last [1]byte
		if _, err := b.f.ReadAt(last[:], st.Size()-1); err != nil {
			return fmt.Errorf("append to journal %s: %w", b.path, err)
		}
		if last[0] != '\n' {
			data = append([]byte{'\n'}, data...)
		}
	}
	if _, err := b.f.Write(data); err != nil {
		return fmt.Errorf("append to journal %s: %w", b.path, err)
	}
	// The record counts only once it is on disk: a trial is never started, and a result never
	// reported as saved, on the strength of a page-cache write a power cut could lose.
	if err := b.f.Sync(); err != nil {
		return fmt.Errorf("sync journal %s: %w", b.path, err)
	}
	return nil
}
