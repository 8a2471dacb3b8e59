package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A data file rewritten between push's hashing pass and its upload pass (same size, other
// bytes) must not end up stored under the first pass's sha256.
func TestPushRefusesFileChangedBetweenPasses(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	dir := t.TempDir()
	data := make([]byte, 10<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	model := writeModel(t, dir, "m.onnx", data)
	files, _, err := collectFiles(ctx, model, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 {
		t.Fatalf("files %v", files)
	}
	data[5000] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, "m.onnx.data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = r.uploadFile(ctx, files[1], nil)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("upload of a changed file: %v, want ErrChecksum", err)
	}
	if ok, _ := r.bucket.Exists(ctx, blobKey(files[1].SHA256)); ok {
		t.Fatal("the changed content was stored under the old sha256")
	}
	// Unchanged files upload.
	if err := r.uploadFile(ctx, files[0], nil); err != nil {
		t.Fatal(err)
	}
}
