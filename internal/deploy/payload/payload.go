// Package payload writes sampled inference requests and responses to a
// folder or blob URL as JSON Lines (optionally gzip), in the layout
// docs/payload-log.md documents and `mlops monitor` reads:
//
//	<dest>/<model>/YYYY/MM/DD/HH/<unix_nanos>-<random>.jsonl[.gz]
//
// Logging never slows requests down: records go through a bounded channel
// to one writer goroutine that batches them; when it falls behind, records
// are dropped and counted rather than queued without bound.
package payload

import (
	"bytes"
	"compress/gzip"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // registers azblob://
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob" // registers gs://
	_ "gocloud.dev/blob/memblob" // registers mem:// (tests)
	_ "gocloud.dev/blob/s3blob"  // registers s3://

	"github.com/mlops-dev/mlops/internal/deploy/oip"
	"github.com/mlops-dev/mlops/internal/deploy/server"
)

// Options configure a Logger.
type Options struct {
	// Sample is the share of requests logged, in (0, 1].
	Sample float64
	// FlushInterval and BatchSize decide when a file is written: whichever
	// comes first. Defaults 10s and 1000 records.
	FlushInterval time.Duration
	BatchSize     int
	// Gzip compresses files (.jsonl.gz).
	Gzip bool
	// OnDrop is called for every record dropped because the writer fell behind.
	OnDrop func()
	// OnError is called when a file cannot be written.
	OnError func(error)
}

// Logger is a server.PayloadSink writing to a bucket.
type Logger struct {
	bucket *blob.Bucket
	opts   Options
	ch     chan server.PayloadRecord
	done   chan struct{}
	once   sync.Once
}

// Open opens dest (a folder, created if needed, or a blob URL such as
// s3://bucket/prefix) and starts the writer.
func Open(ctx context.Context, dest string, opts Options) (*Logger, error) {
	if opts.Sample <= 0 || opts.Sample > 1 {
		return nil, fmt.Errorf("payload sample rate %g must be in (0, 1]", opts.Sample)
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 10 * time.Second
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1000
	}
	b, err := openBucket(ctx, dest)
	if err != nil {
		return nil, fmt.Errorf("open payload log %s: %w", dest, err)
	}
	l := &Logger{bucket: b, opts: opts, ch: make(chan server.PayloadRecord, 4*opts.BatchSize), done: make(chan struct{})}
	go l.run()
	return l, nil
}

func openBucket(ctx context.Context, dest string) (*blob.Bucket, error) {
	if u, err := url.Parse(dest); err == nil && len(u.Scheme) > 1 {
		return blob.OpenBucket(ctx, dest)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	return fileblob.OpenBucket(dest, &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
}

// Log samples rec and queues it; it never blocks.
func (l *Logger) Log(rec server.PayloadRecord) {
	if l.opts.Sample < 1 && rand.Float64() >= l.opts.Sample {
		return
	}
	select {
	case l.ch <- rec:
	default:
		if l.opts.OnDrop != nil {
			l.opts.OnDrop()
		}
	}
}

// Close writes what is queued and closes the bucket. Call it after the
// server stopped sending records.
func (l *Logger) Close() error {
	l.once.Do(func() { close(l.ch) })
	<-l.done
	return l.bucket.Close()
}

func (l *Logger) run() {
	defer close(l.done)
	t := time.NewTicker(l.opts.FlushInterval)
	defer t.Stop()
	pending := map[string][]server.PayloadRecord{}
	n := 0
	flush := func() {
		for model, recs := range pending {
			if err := l.write(model, recs); err != nil && l.opts.OnError != nil {
				l.opts.OnError(err)
			}
		}
		clear(pending)
		n = 0
	}
	for {
		select {
		case rec, ok := <-l.ch:
			if !ok {
				flush()
				return
			}
			pending[rec.Model] = append(pending[rec.Model], rec)
			if n++; n >= l.opts.BatchSize {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

func (l *Logger) write(model string, recs []server.PayloadRecord) error {
	var buf bytes.Buffer
	var line []byte
	for _, r := range recs {
		line = AppendRecord(line[:0], r)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	ext := ".jsonl"
	if l.opts.Gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(data)
		if err := zw.Close(); err != nil {
			return err
		}
		data, ext = z.Bytes(), ".jsonl.gz"
	}
	now := time.Now().UTC()
	var rnd [4]byte
	_, _ = crand.Read(rnd[:])
	key := fmt.Sprintf("%s/%s/%d-%s%s", model, now.Format("2006/01/02/15"), now.UnixNano(), hex.EncodeToString(rnd[:]), ext)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Bucket writers commit on Close only, so a reader never sees half a file.
	if err := l.bucket.WriteAll(ctx, key, data, nil); err != nil {
		return fmt.Errorf("write payload log %s: %w", key, err)
	}
	return nil
}

// AppendRecord renders one payload record as a JSON object (no newline).
func AppendRecord(b []byte, r server.PayloadRecord) []byte {
	b = append(b, `{"ts":`...)
	b = strconv.AppendQuote(b, r.Time.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"request_id":`...)
	b = appendString(b, r.RequestID)
	b = append(b, `,"model":`...)
	b = appendString(b, r.Model)
	b = append(b, `,"version":`...)
	b = appendString(b, r.Version)
	b = append(b, `,"inputs":`...)
	b = appendTensors(b, r.Inputs)
	b = append(b, `,"outputs":`...)
	b = appendTensors(b, r.Outputs)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(r.Duration.Microseconds())/1000, 'f', -1, 64)
	return append(b, '}')
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

func appendTensors(b []byte, ts []*oip.Tensor) []byte {
	b = append(b, '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = oip.AppendTensorJSON(b, t)
	}
	return append(b, ']')
}
