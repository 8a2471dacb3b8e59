package quant

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	if int64(cap(tr.buf)) < n {
		tr.buf = make([]float32, n)
	}
	vals := tr.buf[:n]
	if n == 0 {
		return vals, nil
	}
	// Tensor bytes are little-endian, as is every host the runtime supports.
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), 4*n)
	if _, err := f.ReadAt(raw, e.Offset); err != nil {
		return nil, fmt.Errorf("tensor %q: read %s at %d: %w (the data file is truncated or does not match the model)", t.GetName(), e.Location, e.Offset, err)
	}
	return vals, nil
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
