package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Progress reports bytes moved for one file. Callbacks come from one goroutine at a time.
type Progress struct {
	// "hash", "verify" (reading back a blob already stored), "skip" (it is intact, not
	// uploaded), "repair" (it is damaged and is uploaded again), "upload" or "download".
	Op    string
	File  string
	Done  int64
	Total int64
}

// ProgressFunc receives transfer progress; nil disables reporting.
type ProgressFunc func(Progress)

func (f ProgressFunc) report(p Progress) {
	if f != nil {
		f(p)
	}
}

// countingWriter reports progress as bytes pass through.
type countingWriter struct {
	w        io.Writer
	p        Progress
	progress ProgressFunc
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.Done += int64(n)
	c.progress.report(c.p)
	return n, err
}

// castagnoli is the CRC-32C table; the CPU computes it in hardware on amd64 and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// copyBufSize is the read size for local files: large enough that syscalls do not count.
const copyBufSize = 1 << 20

// fileSum is what the hashing pass of push learns about a file: its sha256 (the blob's name)
// and its CRC-32C (see localFile).
type fileSum struct {
	sha256 string
	crc    uint32
}

// hashFile returns the sha256 and CRC-32C of a local file, reading it once in a stream.
func hashFile(ctx context.Context, path, display string, size int64, progress ProgressFunc) (fileSum, error) {
	f, err := os.Open(path)
	if err != nil {
		return fileSum{}, err
	}
	defer f.Close()
	h := sha256.New()
	c := crc32.New(castagnoli)
	cw := &countingWriter{w: io.MultiWriter(h, c), p: Progress{Op: "hash", File: display, Total: size}, progress: progress}
	if _, err := io.CopyBuffer(cw, ctxReader{ctx, f}, make([]byte, copyBufSize)); err != nil {
		return fileSum{}, fmt.Errorf("read %s: %w", path, err)
	}
	return fileSum{sha256: hex.EncodeToString(h.Sum(nil)), crc: c.Sum32()}, nil
}

// ctxReader stops a copy loop when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// uploadFile streams a local file to blobs/sha256/<sha>, retrying transient failures. An
// interrupted upload (error or cancelled ctx) is aborted by the driver and leaves no blob.
//
// A blob already stored under the same digest is reused only once it has been read back and its
// size and sha256 match: reusing a damaged blob because its key exists would break this version
// and every later one, while pull tells the user to push again to repair it.
func (r *Registry) uploadFile(ctx context.Context, f localFile, progress ProgressFunc) error {
	key := blobKey(f.SHA256)
	switch state, err := r.storedState(ctx, key, f.File, progress); {
	case ctx.Err() != nil:
		return ctx.Err()
	case err == nil && state == blobIntact:
		progress.report(Progress{Op: "skip", File: f.Path, Done: f.Size, Total: f.Size})
		return nil
	case err == nil && state == blobDamaged:
		// Overwrite it. The key is content-addressed, so a concurrent push writing the same
		// key writes the same bytes.
		progress.report(Progress{Op: "repair", File: f.Path, Total: f.Size})
	}
	// Any other error (fileblob can see a concurrent writer's half-written attributes) just
	// means we upload: writing identical content under a content-addressed key is harmless.
	var err error
	for attempt := 0; attempt <= r.opts.Retries; attempt++ {
		if attempt > 0 {
			if berr := backoff(ctx, attempt); berr != nil {
				return berr
			}
		}
		err = r.uploadOnce(ctx, key, f, progress)
		if !transient(ctx, err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", f.Path, err)
	}
	return nil
}

func (r *Registry) uploadOnce(ctx context.Context, key string, f localFile, progress ProgressFunc) error {
	in, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer in.Close()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := r.bucket.NewWriter(wctx, key, &blob.WriterOptions{
		BufferSize:                  r.opts.PartSize,
		MaxConcurrency:              r.opts.Concurrency,
		ContentType:                 "application/octet-stream",
		DisableContentTypeDetection: true,
		Metadata:                    map[string]string{"sha256": f.SHA256},
	})
	if err != nil {
		return err
	}
	cw := &countingWriter{w: w, p: Progress{Op: "upload", File: f.Path, Total: f.Size}, progress: progress}
	c := crc32.New(castagnoli)
	n, err := io.CopyBuffer(io.MultiWriter(cw, c), ctxReader{ctx, in}, make([]byte, copyBufSize))
	if err == nil && (n != f.Size || c.Sum32() != f.crc) {
		err = fmt.Errorf("%w: %s changed while it was being pushed; push again", ErrChecksum, f.path)
	}
	if err != nil {
		cancel() // abort: the driver discards the partial upload
		w.Close()
		return err
	}
	return w.Close()
}

// blobState is what push finds under a blob's key.
type blobState int

const (
	blobMissing blobState = iota
	blobDamaged           // present, but not of the right size or sha256
	blobIntact
)

// storedState reads back the blob at key, if there is one, and compares it with f: size first,
// then the sha256 of its bytes, fetched with the same parallel ranged reads as pull (reported
// as "verify").
func (r *Registry) storedState(ctx context.Context, key string, f File, progress ProgressFunc) (blobState, error) {
	attrs, err := r.bucket.Attributes(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return blobMissing, nil
	}
	if err != nil {
		return blobMissing, err
	}
	if attrs.Size != f.Size {
		return blobDamaged, nil
	}
	h := sha256.New()
	cw := &countingWriter{w: h, p: Progress{Op: "verify", File: f.Path, Total: f.Size}, progress: progress}
	n, err := r.copyRanges(ctx, key, f.Size, nil, cw)
	switch {
	case gcerrors.Code(err) == gcerrors.NotFound:
		return blobMissing, nil // removed meanwhile
	case errors.Is(err, ErrChecksum):
		return blobDamaged, nil // shorter than its attributes said
	case err != nil:
		return blobMissing, err
	case n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256:
		return blobDamaged, nil
	}
	return blobIntact, nil
}

// downloadFile streams blobs/sha256/<sha> into dst (an open temp file), hashing in order while
// up to Concurrency ranges are fetched in parallel, and fails with ErrChecksum on mismatch.
func (r *Registry) downloadFile(ctx context.Context, f File, dst *os.File, progress ProgressFunc) error {
	var err error
	for attempt := 0; attempt <= r.opts.Retries; attempt++ {
		if attempt > 0 {
			if berr := backoff(ctx, attempt); berr != nil {
				return berr
			}
			if _, err := dst.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := dst.Truncate(0); err != nil {
				return err
			}
		}
		err = r.downloadOnce(ctx, f, dst, progress)
		if !transient(ctx, err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", f.Path, err)
	}
	return nil
}

func (r *Registry) downloadOnce(ctx context.Context, f File, dst *os.File, progress ProgressFunc) error {
	key := blobKey(f.SHA256)
	h := sha256.New()
	cw := &countingWriter{w: h, p: Progress{Op: "download", File: f.Path, Total: f.Size}, progress: progress}
	n, err := r.copyRanges(ctx, key, f.Size, dst, cw)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != f.Size || got != f.SHA256 {
		return fmt.Errorf("%w: %s: got %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s; the stored blob %s is damaged — push the model again",
			ErrChecksum, f.Path, n, got, f.Size, f.SHA256, key)
	}
	return nil
}

// writebackChunk: once this many more bytes of a pulled file are written in order,
// the kernel is asked to start writing them to disk (see startWriteback).
const writebackChunk = 32 << 20

// copyRanges copies the blob into dst (from offset 0; nil to only check it) and passes its
// bytes in order to check (the hash). Large blobs are fetched as parallel range reads, each written to dst
// at its offset by the goroutine that fetched it, into a bounded set of part buffers
// (memory ≈ Concurrency × PartSize), so that the in-order path only hashes; small ones
// are copied in one read.
func (r *Registry) copyRanges(ctx context.Context, key string, size int64, dst *os.File, check io.Writer) (int64, error) {
	part := int64(r.opts.PartSize)
	if r.opts.Concurrency <= 1 || size <= part {
		rd, err := r.bucket.NewReader(ctx, key, nil)
		if err != nil {
			return 0, err
		}
		defer rd.Close()
		w := check
		if dst != nil {
			w = io.MultiWriter(dst, check)
		}
		// Read one byte past the expected size so a longer blob is detected as a mismatch.
		return io.Copy(w, ctxReader{ctx, io.LimitReader(rd, size+1)})
	}
	ctx, cancel := context.WithCancel(ctx)
	nParts := int((size + part - 1) / part)
	type result struct {
		buf []byte
		err error
	}
	results := make([]chan result, nParts)
	for i := range results {
		results[i] = make(chan result, 1)
	}
	// bufs is both the limit on parts in flight and their buffers, kept for the whole file
	// (a sync.Pool is emptied by the GC, and each fresh buffer costs page faults): it starts
	// with Concurrency empty tokens, a fetcher takes one (allocating on first use) and the
	// in-order loop gives it back once the part is hashed.
	bufs := make(chan []byte, r.opts.Concurrency)
	for range r.opts.Concurrency {
		bufs <- nil
	}
	// On return, cancel what is still in flight and wait for it: no goroutine may write to
	// dst after this function returns. The launcher counts in wg too, so that its Adds
	// happen while the counter is above zero.
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < nParts; i++ {
			var buf []byte
			select {
			case buf = <-bufs:
			case <-ctx.Done():
				return
			}
			if buf == nil {
				buf = make([]byte, part)
			}
			wg.Add(1)
			go func(i int, buf []byte) {
				defer wg.Done()
				off := int64(i) * part
				buf = buf[:min(part, size-off)]
				err := r.readRange(ctx, key, off, buf)
				if err == nil && dst != nil {
					if _, werr := dst.WriteAt(buf, off); werr != nil {
						err = fmt.Errorf("write %s: %w", dst.Name(), werr)
					}
				}
				results[i] <- result{buf: buf, err: err}
			}(i, buf)
		}
	}()
	var done, flushed int64
	for i := 0; i < nParts; i++ {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return done, ctx.Err()
		}
		if res.err != nil {
			return done, res.err
		}
		n, err := check.Write(res.buf)
		done += int64(n)
		bufs <- res.buf[:cap(res.buf)]
		if err != nil {
			return done, err
		}
		if dst != nil && done-flushed >= writebackChunk {
			startWriteback(dst, flushed, done-flushed)
			flushed = done
		}
	}
	// A blob longer than the manifest says is as wrong as a shorter one.
	if attrs, err := r.bucket.Attributes(ctx, key); err == nil && attrs.Size != size {
		return done + 1, nil
	}
	return done, nil
}

func (r *Registry) readRange(ctx context.Context, key string, off int64, buf []byte) error {
	rd, err := r.bucket.NewRangeReader(ctx, key, off, int64(len(buf)), nil)
	if err != nil {
		return err
	}
	defer rd.Close()
	if _, err := io.ReadFull(rd, buf); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %s is shorter than the manifest says", ErrChecksum, key)
		}
		return err
	}
	return nil
}
