package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/mlops-dev/mlops/internal/safefile"
)

// Pull replaces an existing file only with Overwrite (the model or any of its data files), and
// never anything that is not a regular file; every target is checked before a byte moves.
func TestPullOverwrite(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", []byte("0123456789abcdef"))
	if _, err := r.Push(ctx, model, "m", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	out := filepath.Join(dest, "m.onnx")
	if _, _, err := r.Pull(ctx, Ref{Name: "m"}, out, PullOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only the data file is there: still refused, and the model is not written either.
	os.Remove(out)
	if _, _, err := r.Pull(ctx, Ref{Name: "m"}, out, PullOptions{}); !errors.Is(err, safefile.ErrExists) {
		t.Fatalf("pull over an existing data file: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a refused pull wrote the model")
	}
	if _, _, err := r.Pull(ctx, Ref{Name: "m"}, out, PullOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	sameFile(t, model, out)
	// A FIFO where the data file goes is refused even with Overwrite, and stays a FIFO.
	fifoDir := t.TempDir()
	fifo := filepath.Join(fifoDir, "m.onnx.data")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Pull(ctx, Ref{Name: "m"}, fifoDir, PullOptions{Overwrite: true}); !errors.Is(err, safefile.ErrNotRegular) {
		t.Fatalf("pull onto a FIFO: %v", err)
	}
	if st, err := os.Lstat(fifo); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v", err)
	}
	if ents, _ := os.ReadDir(fifoDir); len(ents) != 1 {
		t.Fatalf("a refused pull left %v", ents)
	}
}

// An interrupt during the download or the final sync wins: nothing is put in place.
func TestPullCancelledWritesNothing(t *testing.T) {
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", make([]byte, 8<<10))
	if _, err := r.Push(context.Background(), model, "m", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dest := t.TempDir()
	n := 0
	_, _, err := r.Pull(ctx, Ref{Name: "m"}, dest, PullOptions{Progress: func(p Progress) {
		// Cancel once the last byte of the last file has arrived: only the commit is left.
		if p.Op == "download" && p.File == "m.onnx.data" && p.Done == p.Total {
			n++
			cancel()
		}
	}})
	if n == 0 {
		t.Fatal("no progress for the data file")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want the cancellation", err)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Fatalf("a cancelled pull left %v", ents)
	}
}
