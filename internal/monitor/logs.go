package monitor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // azblob:// URLs
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // gs:// URLs
	_ "gocloud.dev/blob/memblob" // mem:// URLs, for tests and pipelines
	_ "gocloud.dev/blob/s3blob"  // s3:// URLs (serve writes there too)
)

// maxLineBytes bounds one payload-log line; longer lines are skipped and counted.
const maxLineBytes = 256 << 20

// maxExamples is how many skipped-line messages LogStats keeps.
const maxExamples = 5

// Location is where payload logs live: a bucket and a key prefix (or one exact key).
type Location struct {
	Bucket *blob.Bucket
	Prefix string
	// Exact means Prefix names a single object, not a folder.
	Exact bool
}

// Close releases the bucket.
func (l Location) Close() error { return l.Bucket.Close() }

// OpenLocation opens a local folder or file, or a gocloud.dev blob URL (file:///..., s3://...,
// gs://..., azblob://..., mem://...; narrow a bucket with gocloud.dev's "prefix" query parameter,
// e.g. s3://logs?prefix=fmnist/).
func OpenLocation(ctx context.Context, loc string) (Location, error) {
	if strings.Contains(loc, "://") {
		b, err := blob.OpenBucket(ctx, loc)
		if err != nil {
			return Location{}, fmt.Errorf("open payload logs %s: %w", loc, err)
		}
		return Location{Bucket: b}, nil
	}
	abs, err := filepath.Abs(loc)
	if err != nil {
		return Location{}, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Location{}, fmt.Errorf("payload logs %s: %w (pass the folder serve writes to, a .jsonl[.gz] file, or a blob URL)", loc, err)
	}
	dir, prefix, exact := abs, "", false
	if !fi.IsDir() {
		dir, prefix, exact = filepath.Dir(abs), filepath.Base(abs), true
	}
	b, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		return Location{}, fmt.Errorf("open payload logs %s: %w", loc, err)
	}
	return Location{Bucket: b, Prefix: prefix, Exact: exact}, nil
}

// LogStats counts what reading payload logs saw. JSON field names are a contract.
type LogStats struct {
	Files        int            `json:"files"`
	Lines        int            `json:"lines"`
	Records      int            `json:"records"`
	Rows         int            `json:"rows"`
	Skipped      int            `json:"skipped_lines"`
	SkippedFiles map[string]int `json:"skipped_by_file,omitempty"`
	Examples     []string       `json:"skipped_examples,omitempty"`
}

func (s *LogStats) skip(file string, line int, err error) {
	s.Skipped++
	if s.SkippedFiles == nil {
		s.SkippedFiles = map[string]int{}
	}
	s.SkippedFiles[file]++
	if len(s.Examples) < maxExamples {
		s.Examples = append(s.Examples, fmt.Sprintf("%s:%d: %v", file, line, err))
	}
}

// isLogKey reports whether a key names a payload-log file.
func isLogKey(key string) bool {
	return strings.HasSuffix(key, ".jsonl") || strings.HasSuffix(key, ".jsonl.gz")
}

// ScanLogs calls fn for every valid record under loc, in key order (creation order within an hour).
// Malformed lines, and records fn rejects with a *SkipError, are skipped and counted in stats.
// Any other error from fn stops the scan.
func ScanLogs(ctx context.Context, loc Location, stats *LogStats, fn func(*Record) error) error {
	var keys []string
	it := loc.Bucket.List(&blob.ListOptions{Prefix: loc.Prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("list payload logs: %w", err)
		}
		if obj.IsDir || !isLogKey(obj.Key) || (loc.Exact && obj.Key != loc.Prefix) {
			continue
		}
		keys = append(keys, obj.Key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if err := scanFile(ctx, loc.Bucket, key, stats, fn); err != nil {
			return err
		}
	}
	return nil
}

// SkipError marks a record the consumer could not use; the scan counts it and goes on.
type SkipError struct{ Err error }

func (e *SkipError) Error() string { return e.Err.Error() }
func (e *SkipError) Unwrap() error { return e.Err }

func scanFile(ctx context.Context, b *blob.Bucket, key string, stats *LogStats, fn func(*Record) error) error {
	r, err := b.NewReader(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("read payload log %s: %w", key, err)
	}
	defer r.Close()
	stats.Files++
	var src io.Reader = r
	if strings.HasSuffix(key, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			stats.skip(key, 0, fmt.Errorf("not gzip data: %w", err))
			return nil
		}
		defer zr.Close()
		src = zr
	}
	br := bufio.NewReaderSize(src, 1<<20)
	var line []byte
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var tooLong bool
		line, tooLong, err = readLine(br, line[:0])
		if len(line) == 0 && !tooLong && err != nil {
			if !errors.Is(err, io.EOF) {
				// A truncated gzip stream or read error ends this file, not the run.
				stats.skip(key, n, fmt.Errorf("file ends early: %w", err))
			}
			return nil
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 && !tooLong {
			continue
		}
		stats.Lines++
		if tooLong {
			stats.skip(key, n, fmt.Errorf("line longer than %d bytes", maxLineBytes))
		} else if rec, derr := DecodeRecord(trimmed); derr != nil {
			stats.skip(key, n, derr)
		} else if ferr := fn(rec); ferr != nil {
			var se *SkipError
			if !errors.As(ferr, &se) {
				return ferr
			}
			stats.skip(key, n, se.Err)
		} else {
			stats.Records++
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				stats.skip(key, n, fmt.Errorf("file ends early: %w", err))
			}
			return nil
		}
	}
}

// readLine reads up to the next newline, keeping at most maxLineBytes; tooLong reports a line that
// was cut (its remainder is consumed and dropped).
func readLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxLineBytes {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, tooLong, err
	}
}
