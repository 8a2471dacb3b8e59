package quant

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"unsafe"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Large models are quantized one tensor at a time: external float data is
// read with pread into a buffer reused across tensors (not memory-mapped, so
// the source pages do not pile up in our resident set), and quantized
// tensors of a model that uses external data are appended to a spill file
// next to it instead of staying in memory. Save then copies the spill file
// into the output's data file.

// tensorReader reads float32 tensors.
type tensorReader struct {
	m     *onnx.Model
	files map[string]*os.File
	buf   []float32
	half  []byte // raw 16-bit values of the last FLOAT16/BFLOAT16 tensor
	// last is the tensor float32s read from external data most recently,
	// and lo, hi the range of its finite values (see minMax), found while
	// the bytes were still in cache.
	last   *onnxpb.TensorProto
	lo, hi float32
}

func newTensorReader(m *onnx.Model) *tensorReader {
	return &tensorReader{m: m, files: map[string]*os.File{}}
}

func (tr *tensorReader) close() {
	for _, f := range tr.files {
		f.Close()
	}
}

// float32s returns the values of a FLOAT tensor. For external tensors the
// slice is only valid until the next call.
func (tr *tensorReader) float32s(t *onnxpb.TensorProto) ([]float32, error) {
	if !onnx.IsExternal(t) {
		return onnx.Float32s(tr.m, t)
	}
	e, err := onnx.ExternalDataOf(t)
	if err != nil {
		return nil, err
	}
	n, err := onnx.NumElements(t)
	if err != nil {
		return nil, err
	}
	if e.Length >= 0 && e.Length != 4*n {
		return nil, fmt.Errorf("tensor %q: external length %d does not match %d float32 values", t.GetName(), e.Length, n)
	}
	f, err := tr.open(t, e)
	if err != nil {
		return nil, err
	}
	if int64(cap(tr.buf)) < n {
		tr.buf = make([]float32, n)
	}
	vals := tr.buf[:n]
	if n == 0 {
		return vals, nil
	}
	// Tensor bytes are little-endian, as is every host the runtime supports.
	tr.last = nil
	lo, hi, err := readFloats(f, e.Offset, vals)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: read %s at %d: %w (the data file is truncated or does not match the model)", t.GetName(), e.Location, e.Offset, err)
	}
	tr.last, tr.lo, tr.hi = t, lo, hi
	return vals, nil
}

// open returns the data file of an external tensor, opened once per run.
func (tr *tensorReader) open(t *onnxpb.TensorProto, e onnx.ExternalData) (*os.File, error) {
	path, err := onnx.ResolveLocation(tr.m.Dir, e.Location)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	f, ok := tr.files[path]
	if !ok {
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
		}
		tr.files[path] = f
	}
	return f, nil
}

// rangeOf returns the range of finite values of t when float32s just read
// it from external data.
func (tr *tensorReader) rangeOf(t *onnxpb.TensorProto) (lo, hi float32, ok bool) {
	if tr.last != t || t == nil {
		return 0, 0, false
	}
	return tr.lo, tr.hi, true
}

// readChunk is the unit of work of readFloats: small enough that its
// values are still in cache when their range is taken.
const readChunk = 1 << 20

// readFloats fills vals from f at off with reads split across cores (the
// kernel's copy out of the page cache is most of the cost of streaming a
// model held in RAM) and returns the range of the finite values read. Each
// core reads its share readChunk bytes at a time and takes their range
// while they are still in cache.
func readFloats(f *os.File, off int64, vals []float32) (lo, hi float32, err error) {
	var mu sync.Mutex
	lo, hi = float32(math.Inf(1)), float32(math.Inf(-1))
	parallelFor(len(vals), func(a, b int) {
		wlo, whi := float32(math.Inf(1)), float32(math.Inf(-1))
		var werr error
		for c := a; c < b && werr == nil; c += readChunk / 4 {
			part := vals[c:min(c+readChunk/4, b)]
			raw := unsafe.Slice((*byte)(unsafe.Pointer(&part[0])), 4*len(part))
			if _, werr = f.ReadAt(raw, off+4*int64(c)); werr == nil {
				l, h := minMax(part)
				wlo, whi = min(wlo, l), max(whi, h)
			}
		}
		mu.Lock()
		lo, hi = min(lo, wlo), max(hi, whi)
		if err == nil {
			err = werr
		}
		mu.Unlock()
	})
	return lo, hi, err
}

// spillFile holds quantized tensors of a large model until Save copies them.
type spillFile struct {
	f    *os.File
	off  int64
	base string
}

// spillThreshold: smaller tensors stay inline in the model proto.
const spillThreshold = 1 << 16

func newSpill(dir string) (*spillFile, error) {
	f, err := os.CreateTemp(dir, ".mlops-quant-*.data")
	if err != nil {
		return nil, fmt.Errorf("temporary data file in %s (the model's folder must be writable for models with external data): %w", dir, err)
	}
	return &spillFile{f: f, base: filepath.Base(f.Name())}, nil
}

// put moves t's raw_data into the spill file when it is large.
func (s *spillFile) put(t *onnxpb.TensorProto) error {
	if s == nil || len(t.RawData) < spillThreshold {
		return nil
	}
	if _, err := s.f.WriteAt(t.RawData, s.off); err != nil {
		return fmt.Errorf("spill tensor %s: %w", t.GetName(), err)
	}
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	t.ExternalData = []*onnxpb.StringStringEntryProto{
		kv("location", s.base), kv("offset", strconv.FormatInt(s.off, 10)), kv("length", strconv.Itoa(len(t.RawData))),
	}
	t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	s.off += int64(len(t.RawData))
	s.off = (s.off + 4095) &^ 4095
	t.RawData = nil
	return nil
}

func (s *spillFile) remove() {
	if s != nil {
		s.f.Close()
		os.Remove(s.f.Name())
	}
}
