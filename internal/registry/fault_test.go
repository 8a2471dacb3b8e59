package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil/emulators"
)

// TestS3ServerKilledMidPush kills MinIO during a multipart upload: the push fails, no version
// is visible after the server is back, and pushing again succeeds.
func TestS3ServerKilledMidPush(t *testing.T) {
	url, srv, restart := emulators.StartMinIO(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Open(ctx, url, Options{PartSize: 5 << 20, Concurrency: 1, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	model := writeModel(t, t.TempDir(), "big.onnx", make([]byte, 40<<20))
	killed := false
	cmd := srv
	_, err = r.Push(ctx, model, "big", PushOptions{Progress: func(p Progress) {
		if p.Op == "upload" && p.Done > 12<<20 && !killed {
			killed = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}})
	if !killed {
		t.Fatal("the upload finished before the server could be killed")
	}
	if err == nil {
		t.Fatal("push succeeded although the server died mid-upload")
	}
	restart()
	if _, err := r.Resolve(ctx, Ref{Name: "big"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after a failed push: %v, want no visible version", err)
	}
	m, err := r.Push(ctx, model, "big", PushOptions{})
	if err != nil || m.Version != 1 {
		t.Fatalf("retry after restart: %v, %v", m, err)
	}
}
