package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Close releases the underlying bucket.
func (r *Registry) Close() error { return r.bucket.Close() }

// URL is the registry URL with credentials removed.
func (r *Registry) URL() string { return r.url }

const maxRecordSize = 4 << 20 // manifests and alias events are small; refuse anything larger

// readRecord reads a small JSON object. A missing key returns an error matching ErrNotFound.
func (r *Registry) readRecord(ctx context.Context, key string) ([]byte, error) {
	rd, err := r.bucket.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if len(data) > maxRecordSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalid, key, maxRecordSize)
	}
	return data, nil
}

// errExists reports that a conditional create lost the race.
var errExists = errors.New("already exists")

// createRecord writes v as JSON at key only if key does not exist yet.
func (r *Registry) createRecord(ctx context.Context, key string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	err = r.bucket.WriteAll(ctx, key, data, &blob.WriterOptions{
		ContentType: "application/json",
		IfNotExist:  true,
	})
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return errExists
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// listKeys returns every key under prefix.
func (r *Registry) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	it := r.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return keys, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		if !obj.IsDir {
			keys = append(keys, obj.Key)
		}
	}
}

// backoff sleeps before retry attempt n (0-based), with jitter, or returns early on cancel.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(1<<min(n, 6)) * 20 * time.Millisecond
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

// transient reports whether a failed transfer is worth retrying.
func transient(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.PermissionDenied, gcerrors.InvalidArgument,
		gcerrors.FailedPrecondition, gcerrors.AlreadyExists, gcerrors.Unimplemented, gcerrors.Canceled:
		return false
	}
	return !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrInvalid)
}
