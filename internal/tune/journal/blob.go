package journal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/mlops-dev/mlops/internal/registry"
)

// blobBackend is a journal on a blob store, which cannot append: under the journal's key each
// transaction is one object, <seq>.jsonl with seq = 1, 2, ..., created only if it does not
// exist yet (S3 If-None-Match, GCS DoesNotExist, Azure If-None-Match). A writer that loses the
// race for seq re-reads and decides again. Every SnapshotEvery segments the writer that
// created the segment also stores snapshot-<seq>.jsonl with every line so far, so a resume
// reads one snapshot and the segments after it instead of thousands of objects.
type blobBackend struct {
	bucket  *blob.Bucket
	display string
	every   int
	raw     bytes.Buffer // every line read so far, for snapshots
}

const (
	segmentDigits  = 12
	snapshotPrefix = "snapshot-"
)

func segmentKey(seq int64) string { return fmt.Sprintf("%0*d.jsonl", segmentDigits, seq) }

func openBlob(ctx context.Context, rawURL string, opts Options) (*blobBackend, error) {
	b, err := registry.OpenStore(ctx, rawURL, "journal")
	if err != nil {
		return nil, err
	}
	return &blobBackend{bucket: b, display: redact(rawURL), every: opts.SnapshotEvery}, nil
}

// OpenBucket opens a journal on an already open bucket (tests, embedding); the journal takes
// ownership of it.
func OpenBucket(b *blob.Bucket, display string, opts Options) *Journal {
	j := newJournal(display, opts)
	j.b = &blobBackend{bucket: b, display: display, every: j.opts.SnapshotEvery}
	return j
}

func (b *blobBackend) close() error { return b.bucket.Close() }

func (b *blobBackend) lock(context.Context, bool) (func(), error) { return func() {}, nil }

func (b *blobBackend) exists(ctx context.Context) (bool, error) {
	obj, err := b.bucket.List(&blob.ListOptions{}).Next(ctx)
	if err == io.EOF {
		return false, nil
	}
	return obj != nil, b.wrap(err, "list")
}

func (b *blobBackend) wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	if gcerrors.Code(err) == gcerrors.PermissionDenied {
		return fmt.Errorf("%w to %s the journal %s: check the credentials and the bucket policy: %v", ErrPermission, what, b.display, err)
	}
	return fmt.Errorf("journal %s: %s: %w", b.display, what, err)
}

// latestSnapshot returns the highest snapshot sequence number, or 0.
func (b *blobBackend) latestSnapshot(ctx context.Context) (int64, error) {
	it := b.bucket.List(&blob.ListOptions{Prefix: snapshotPrefix})
	var best int64
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return best, nil
		}
		if err != nil {
			return 0, b.wrap(err, "list")
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(obj.Key, snapshotPrefix), ".jsonl"), 10, 64)
		if err == nil && n > best {
			best = n
		}
	}
}

func (b *blobBackend) read(ctx context.Context, cursor int64) ([]line, int64, *tornLine, error) {
	var lines []line
	if cursor == 0 {
		if snap, err := b.latestSnapshot(ctx); err != nil {
			return nil, 0, nil, err
		} else if snap > 0 {
			data, err := b.bucket.ReadAll(ctx, fmt.Sprintf("%s%0*d.jsonl", snapshotPrefix, segmentDigits, snap))
			if err == nil {
				lines = append(lines, splitSegment(data, fmt.Sprintf("snapshot %d", snap), -1)...)
				b.raw.Write(data)
				cursor = snap
			} else if gcerrors.Code(err) != gcerrors.NotFound {
				return nil, 0, nil, b.wrap(err, "read")
			}
		}
	}
	for {
		data, err := b.bucket.ReadAll(ctx, segmentKey(cursor+1))
		if gcerrors.Code(err) == gcerrors.NotFound {
			return lines, cursor, nil, nil
		}
		if err != nil {
			return nil, cursor, nil, b.wrap(err, "read")
		}
		cursor++
		lines = append(lines, splitSegment(data, "segment "+strconv.FormatInt(cursor, 10), cursor)...)
		b.raw.Write(data)
	}
}

// splitSegment cuts an object into lines; offsets identify them as seq·2²⁰ + line number
// (segments hold one transaction, a few lines) and −(line+1) in a snapshot (seq −1).
func splitSegment(data []byte, where string, seq int64) []line {
	var out []line
	for i, l := range bytes.Split(bytes.TrimSuffix(data, []byte{'\n'}), []byte{'\n'}) {
		off := seq<<20 | int64(i)
		if seq < 0 {
			off = -int64(i) - 1
		}
		out = append(out, line{data: l, offset: off, where: fmt.Sprintf("%s line %d", where, i+1)})
	}
	return out
}

func (b *blobBackend) commit(ctx context.Context, cursor int64, data []byte) error {
	seq := cursor + 1
	err := b.bucket.WriteAll(ctx, segmentKey(seq), data, &blob.WriterOptions{ContentType: "application/x-ndjson", IfNotExist: true})
	switch gcerrors.Code(err) {
	case gcerrors.OK:
	case gcerrors.FailedPrecondition, gcerrors.AlreadyExists:
		return errConflict
	default:
		return b.wrap(err, "write")
	}
	if seq%int64(b.every) == 0 {
		// Best effort: a missing snapshot only makes the next resume read more segments.
		snap := append(slices.Clone(b.raw.Bytes()), data...)
		key := fmt.Sprintf("%s%0*d.jsonl", snapshotPrefix, segmentDigits, seq)
		_ = b.bucket.WriteAll(ctx, key, snap, &blob.WriterOptions{ContentType: "application/x-ndjson"})
	}
	return nil
}
