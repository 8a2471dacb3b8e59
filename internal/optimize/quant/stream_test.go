package quant

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// readFloats splits large reads across goroutines; the values and the
// range must be those of one sequential read, and a short file an error.
func TestReadFloatsParallelChunks(t *testing.T) {
	const n = 3*readChunk/4 + 12345 // several chunks and a ragged tail
	r := rand.New(rand.NewPCG(1, 2))
	want := make([]float32, n)
	for i := range want {
		want[i] = float32(r.NormFloat64())
	}
	want[7] = float32(math.NaN())              // ignored by the range
	want[readChunk/4+3] = float32(math.Inf(1)) // also ignored
	want[n-1] = 9.5                            // the maximum, in the tail
	want[readChunk/2] = -8.25                  // the minimum, in another chunk
	path := filepath.Join(t.TempDir(), "w.bin")
	const off = 100
	raw := append(make([]byte, off), unsafe.Slice((*byte)(unsafe.Pointer(&want[0])), 4*n)...)
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := make([]float32, n)
	lo, hi, err := readFloats(f, off, got)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("value %d: got %v, want %v", i, got[i], want[i])
		}
	}
	if lo != -8.25 || hi != 9.5 {
		t.Errorf("range [%v, %v], want [-8.25, 9.5]", lo, hi)
	}
	if _, _, err := readFloats(f, off+8, got); err == nil {
		t.Error("reading past the end of the file did not fail")
	}
}
