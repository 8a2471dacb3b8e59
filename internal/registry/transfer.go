package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"gocloud.dev/blob"
)

// Progress reports bytes moved for one file. Callbacks come from one goroutine at a time.
type Progress struct {
	Op    string // "hash", "upload", "download" or "skip" (blob already stored)
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

// hashFile returns the sha256 of a local file, reading it once in a stream.
func hashFile(ctx context.Context, path, display string, size int64, progress ProgressFunc) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countingWriter{w: h, p: Progress{Op: "hash", File: display, Total: size}, progress: progress}
	if _, err := io.Copy(cw, ctxReader{ctx, f}); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
func (r *Registry) uploadFile(ctx context.Context, path string, f File, progress ProgressFunc) error {
	key := blobKey(f.SHA256)
	// An error here (fileblob can see a concurrent writer's half-written attributes) just means
	// we upload: writing identical content under a content-addressed key is harmless.
	if ok, err := r.bucket.Exists(ctx, key); err == nil && ok {
		progress.report(Progress{Op: "skip", File: f.Path, Done: f.Size, Total: f.Size})
		return nil
	}
	var err error
	for attempt := 0; attempt <= r.opts.Retries; attempt++ {
		if attempt > 0 {
			if berr := backoff(ctx, attempt); berr != nil {
				return berr
			}
		}
		err = r.uploadOnce(ctx, path, key, f, progress)
		if !transient(ctx, err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("upload %s: %w", f.Path, err)
	}
	return nil
}

func (r *Registry) uploadOnce(ctx context.Context, path, key string, f File, progress ProgressFunc) error {
	in, err := os.Open(path)
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
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(cw, h), ctxReader{ctx, in})
	if err == nil && (n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256) {
		err = fmt.Errorf("%w: %s changed while it was being pushed; push again", ErrChecksum, path)
	}
	if err != nil {
		cancel() // abort: the driver discards the partial upload
		w.Close()
		return err
	}
	return w.Close()
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
	cw := &countingWriter{w: io.MultiWriter(dst, h), p: Progress{Op: "download", File: f.Path, Total: f.Size}, progress: progress}
	n, err := r.copyRanges(ctx, key, f.Size, cw)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != f.Size || got != f.SHA256 {
		return fmt.Errorf("%w: %s: got %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s; the stored blob %s is damaged — push the model again",
			ErrChecksum, f.Path, n, got, f.Size, f.SHA256, key)
	}
	return nil
}

// copyRanges writes the blob to w in order. Large blobs are fetched as parallel range reads
// into a bounded set of part buffers (memory ≈ Concurrency × PartSize); small ones in one read.
func (r *Registry) copyRanges(ctx context.Context, key string, size int64, w io.Writer) (int64, error) {
	part := int64(r.opts.PartSize)
	if r.opts.Concurrency <= 1 || size <= part {
		rd, err := r.bucket.NewReader(ctx, key, nil)
		if err != nil {
			return 0, err
		}
		defer rd.Close()
		// Read one byte past the expected size so a longer blob is detected as a mismatch.
		return io.Copy(w, ctxReader{ctx, io.LimitReader(rd, size+1)})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nParts := int((size + part - 1) / part)
	type result struct {
		buf []byte
		err error
	}
	results := make([]chan result, nParts)
	for i := range results {
		results[i] = make(chan result, 1)
	}
	slots := make(chan struct{}, r.opts.Concurrency)
	pool := sync.Pool{New: func() any { b := make([]byte, part); return &b }}
	var wg sync.WaitGroup
	defer wg.Wait()
	go func() {
		for i := 0; i < nParts; i++ {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				off := int64(i) * part
				length := min(part, size-off)
				bp := pool.Get().(*[]byte)
				buf := (*bp)[:length]
				err := r.readRange(ctx, key, off, buf)
				results[i] <- result{buf: buf, err: err}
			}(i)
		}
	}()
	var written int64
	for i := 0; i < nParts; i++ {
		var res result
		select {
		case res = <-results[i]:
		case <-ctx.Done():
			return written, ctx.Err()
		}
		if res.err != nil {
			return written, res.err
		}
		n, err := w.Write(res.buf)
		written += int64(n)
		b := res.buf[:cap(res.buf)]
		pool.Put(&b)
		<-slots
		if err != nil {
			return written, err
		}
	}
	// A blob longer than the manifest says is as wrong as a shorter one.
	if attrs, err := r.bucket.Attributes(ctx, key); err == nil && attrs.Size != size {
		return written + 1, nil
	}
	return written, nil
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
