package export

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil"
)

func TestRunCancelledWritesNothing(t *testing.T) {
	rt := testutil.Runtime(t)
	in := fmnist(t, "cnn.onnx")
	out := filepath.Join(t.TempDir(), "o.onnx")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, rt, Request{Input: in, Output: out, FP16: true, Optimize: true, Verify: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output written after cancellation")
	}
}

// The exporter runs in a child Python; cancelling kills it promptly.
func TestExportCancelledStopsPython(t *testing.T) {
	needTorch(t)
	rt := testutil.Runtime(t)
	out := filepath.Join(t.TempDir(), "o.onnx")
	spec, _ := ParseInputSpec("x:1x16")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, rt, Request{Input: testutil.RepoFile(t, "testdata/convert/mlp.ts.pt"), Output: out,
		Framework: &FrameworkRequest{Framework: "pytorch", Python: debianPython, Inputs: []InputSpec{spec}, Tolerance: 1e-4}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output written after cancellation")
	}
}
