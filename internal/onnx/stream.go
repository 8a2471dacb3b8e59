package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// TensorStream reads and rewrites a model's tensors one at a time, so that
// commands that rewrite every weight (prune, convert --fp16) keep their
// resident memory near the largest tensor whatever the model's size:
//
//   - external tensors are read with pread into a buffer reused from call to
//     call, not through the memory map (whose touched pages would stay in the
//     resident set until the model is closed);
//   - for a model that already uses external data, replaced tensors of at
//     least StreamSpillThreshold bytes are appended to a spill file in the
//     model's folder and the tensor points at it; Save copies them
//     file-to-file into the output's data file. Smaller data, and all data
//     of a model kept inline, is set inline as SetRaw does.
//
// Close removes the spill file, so call it after the model is saved.
type TensorStream struct {
	m         *Model
	files     map[string]*os.File
	spill     *os.File
	spillBase string
	off       int64
	raw       []byte
	f32       []float32
	external  bool
}

// StreamSpillThreshold is the smallest replaced tensor (bytes) a stream
// writes to its spill file.
const StreamSpillThreshold = 1 << 16

// NewTensorStream prepares streaming access to m's tensors. With spill
// false every replacement is set inline (for callers that keep the model in
// memory and never save it through this stream).
func NewTensorStream(m *Model, spill bool) *TensorStream {
	s := &TensorStream{m: m, files: map[string]*os.File{}}
	if !spill {
		return s
	}
	forEachTensor(m.Proto, func(t *onnxpb.TensorProto) bool {
		if IsExternal(t) {
			s.external = true
			return false
		}
		return true
	})
	return s
}

// Close closes the data files and removes the spill file.
func (s *TensorStream) Close() error {
	for _, f := range s.files {
		f.Close()
	}
	s.files = map[string]*os.File{}
	if s.spill != nil {
		s.spill.Close()
		err := os.Remove(s.spill.Name())
		s.spill = nil
		return err
	}
	return nil
}

// Bytes returns t's data in the little-endian raw_data layout. External data
// is read into a buffer that the next call reuses.
func (s *TensorStream) Bytes(t *onnxpb.TensorProto) ([]byte, error) {
	if !IsExternal(t) {
		return RawBytes(s.m, t)
	}
	e, err := ExternalDataOf(t)
	if err != nil {
		return nil, err
	}
	size := DataBytes(t)
	if size < 0 {
		return nil, fmt.Errorf("tensor %q: external %v data cannot be sized from its dims", t.GetName(), TypeOf(t))
	}
	if e.Length >= 0 && e.Length != size {
		return nil, fmt.Errorf("tensor %q: external data length %d does not match %v%v (%d bytes)", t.GetName(), e.Length, TypeOf(t), t.GetDims(), size)
	}
	path, err := ResolveLocation(s.m.Dir, e.Location)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	f, ok := s.files[path]
	if !ok {
		if f, err = os.Open(path); err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
		}
		s.files[path] = f
	}
	if int64(cap(s.raw)) < size {
		s.raw = make([]byte, size)
	}
	b := s.raw[:size]
	if _, err := f.ReadAt(b, e.Offset); err != nil {
		return nil, fmt.Errorf("tensor %q: read %s at %d: %w (the data file is truncated or does not match the model)", t.GetName(), e.Location, e.Offset, err)
	}
	return b, nil
}

// Float32s returns the values of a FLOAT, FLOAT16, BFLOAT16 or DOUBLE
// tensor as float32, in a buffer that the next call reuses.
func (s *TensorStream) Float32s(t *onnxpb.TensorProto) ([]float32, error) {
	dt := TypeOf(t)
	if dt != Float && dt != Float16 && dt != BFloat16 && dt != Double {
		return nil, fmt.Errorf("tensor %q is %v, not a float type", t.GetName(), dt)
	}
	raw, err := s.Bytes(t)
	if err != nil {
		return nil, err
	}
	s.f32 = DecodeFloats(dt, raw, s.f32)
	return s.f32, nil
}

// DecodeFloats decodes little-endian FLOAT, FLOAT16, BFLOAT16 or DOUBLE
// bytes into float32s, reusing dst when it is large enough.
func DecodeFloats(dt DataType, raw []byte, dst []float32) []float32 {
	size := dt.ByteSize()
	n := len(raw) / size
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	v := dst[:n]
	for i := range v {
		switch dt {
		case Float:
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case Double:
			v[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		case Float16:
			v[i] = Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		case BFloat16:
			v[i] = BFloat16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	return v
}

// Set replaces t's type, dims and data with raw (little-endian raw_data
// layout; it may alias a stream buffer, it is copied or written out).
func (s *TensorStream) Set(t *onnxpb.TensorProto, dt DataType, dims []int64, raw []byte) error {
	if !s.external || len(raw) < StreamSpillThreshold || t.GetDataType() == int32(String) {
		return SetRaw(t, dt, dims, append([]byte(nil), raw...))
	}
	if s.spill == nil {
		f, err := os.CreateTemp(s.m.Dir, ".mlops-stream-*.data")
		if err != nil {
			// A read-only model folder costs memory, not correctness.
			s.external = false
			return SetRaw(t, dt, dims, append([]byte(nil), raw...))
		}
		s.spill, s.spillBase = f, filepath.Base(f.Name())
	}
	n, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("set tensor %q: %w", t.GetName(), err)
	}
	if want := dt.StorageBytes(n); int64(len(raw)) != want {
		return fmt.Errorf("set tensor %q: %v%v needs %d bytes, got %d", t.GetName(), dt, dims, want, len(raw))
	}
	if _, err := s.spill.WriteAt(raw, s.off); err != nil {
		return fmt.Errorf("tensor %q: write to %s: %w", t.GetName(), s.spill.Name(), err)
	}
	clearData(t)
	t.Dims = append([]int64(nil), dims...)
	t.DataType = ptr(int32(dt))
	kv := func(k, v string) *onnxpb.StringStringEntryProto {
		return &onnxpb.StringStringEntryProto{Key: proto.String(k), Value: proto.String(v)}
	}
	t.RawData = nil
	t.ExternalData = []*onnxpb.StringStringEntryProto{kv("location", s.spillBase),
		kv("offset", strconv.FormatInt(s.off, 10)), kv("length", strconv.Itoa(len(raw)))}
	t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	s.off = (s.off + int64(len(raw)) + externalAlign - 1) &^ (externalAlign - 1)
	return nil
}

// ExternalBytes is the size of the external data m refers to.
func ExternalBytes(m *Model) int64 {
	var n int64
	forEachTensor(m.Proto, func(t *onnxpb.TensorProto) bool {
		if IsExternal(t) {
			if b := DataBytes(t); b > 0 {
				n += b
			}
		}
		return true
	})
	return n
}
