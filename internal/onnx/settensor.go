package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// SetRaw stores raw little-endian element bytes in t.raw_data with the given
// type and dims, dropping any other data representation (typed fields,
// external reference). raw must have exactly the size dims × type require.
func SetRaw(t *onnxpb.TensorProto, dt DataType, dims []int64, raw []byte) error {
	n, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("set tensor %q: %w", t.GetName(), err)
	}
	want := dt.StorageBytes(n)
	if want < 0 {
		return fmt.Errorf("set tensor %q: element type %v has no raw layout", t.GetName(), dt)
	}
	if int64(len(raw)) != want {
		return fmt.Errorf("set tensor %q: %v%v needs %d bytes, got %d", t.GetName(), dt, dims, want, len(raw))
	}
	clearData(t)
	t.Dims = append([]int64(nil), dims...)
	t.DataType = ptr(int32(dt))
	t.RawData = raw
	if t.RawData == nil {
		t.RawData = []byte{}
	}
	return nil
}

// SetValues stores vals in t as ElementType[T] with the given dims.
func SetValues[T Element](t *onnxpb.TensorProto, dims []int64, vals []T) error {
	dt := ElementType[T]()
	n, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("set tensor %q: %w", t.GetName(), err)
	}
	if int64(len(vals)) != n {
		return fmt.Errorf("set tensor %q: dims %v need %d values, got %d", t.GetName(), dims, n, len(vals))
	}
	size := dt.ByteSize()
	raw := make([]byte, len(vals)*size)
	le := binary.LittleEndian
	switch v := any(vals).(type) {
	case []float32:
		for i, x := range v {
			le.PutUint32(raw[4*i:], math.Float32bits(x))
		}
	case []float64:
		for i, x := range v {
			le.PutUint64(raw[8*i:], math.Float64bits(x))
		}
	case []int8:
		for i, x := range v {
			raw[i] = byte(x)
		}
	case []uint8:
		copy(raw, v)
	case []int16:
		for i, x := range v {
			le.PutUint16(raw[2*i:], uint16(x))
		}
	case []uint16:
		for i, x := range v {
			le.PutUint16(raw[2*i:], x)
		}
	case []int32:
		for i, x := range v {
			le.PutUint32(raw[4*i:], uint32(x))
		}
	case []uint32:
		for i, x := range v {
			le.PutUint32(raw[4*i:], x)
		}
	case []int64:
		for i, x := range v {
			le.PutUint64(raw[8*i:], uint64(x))
		}
	case []uint64:
		for i, x := range v {
			le.PutUint64(raw[8*i:], x)
		}
	case []bool:
		for i, x := range v {
			if x {
				raw[i] = 1
			}
		}
	case []complex64:
		for i, x := range v {
			le.PutUint32(raw[8*i:], math.Float32bits(real(x)))
			le.PutUint32(raw[8*i+4:], math.Float32bits(imag(x)))
		}
	case []complex128:
		for i, x := range v {
			le.PutUint64(raw[16*i:], math.Float64bits(real(x)))
			le.PutUint64(raw[16*i+8:], math.Float64bits(imag(x)))
		}
	}
	return SetRaw(t, dt, dims, raw)
}

// SetFromFloat32s encodes vals as the real floating-point type dt (FLOAT,
// DOUBLE, FLOAT16, BFLOAT16, any float8, FLOAT4E2M1), rounding to nearest
// even, and stores them in raw_data.
func SetFromFloat32s(t *onnxpb.TensorProto, dt DataType, dims []int64, vals []float32) error {
	if !dt.IsFloat() {
		return fmt.Errorf("set tensor %q: %v is not a floating-point type", t.GetName(), dt)
	}
	n, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("set tensor %q: %w", t.GetName(), err)
	}
	if int64(len(vals)) != n {
		return fmt.Errorf("set tensor %q: dims %v need %d values, got %d", t.GetName(), dims, n, len(vals))
	}
	raw := make([]byte, dt.StorageBytes(n))
	le := binary.LittleEndian
	for i, x := range vals {
		switch dt {
		case Float:
			le.PutUint32(raw[4*i:], math.Float32bits(x))
		case Double:
			le.PutUint64(raw[8*i:], math.Float64bits(float64(x)))
		case Float16:
			le.PutUint16(raw[2*i:], Float32ToFloat16(x))
		case BFloat16:
			le.PutUint16(raw[2*i:], Float32ToBFloat16(x))
		case Float4E2M1:
			packSub(raw, 4, i, Float32ToFloat8(dt, x))
		default:
			raw[i] = Float32ToFloat8(dt, x)
		}
	}
	return SetRaw(t, dt, dims, raw)
}

// SetFromInt64s encodes vals as the integer type dt (any width, including
// INT4/UINT4/INT2/UINT2, or BOOL) in raw_data. A value outside dt's range
// is an error naming its index.
func SetFromInt64s(t *onnxpb.TensorProto, dt DataType, dims []int64, vals []int64) error {
	if !dt.IsInteger() && dt != Bool {
		return fmt.Errorf("set tensor %q: %v is not an integer type", t.GetName(), dt)
	}
	n, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("set tensor %q: %w", t.GetName(), err)
	}
	if int64(len(vals)) != n {
		return fmt.Errorf("set tensor %q: dims %v need %d values, got %d", t.GetName(), dims, n, len(vals))
	}
	lo, hi := intRange(dt)
	raw := make([]byte, dt.StorageBytes(n))
	for i, x := range vals {
		if dt != Uint64 && (x < lo || x > hi) {
			return fmt.Errorf("set tensor %q: value %d at index %d is outside the %v range [%d, %d]", t.GetName(), x, i, dt, lo, hi)
		}
		switch bits := dt.Bits(); {
		case bits < 8:
			packSub(raw, bits, i, uint8(x))
		default:
			putUint(raw[i*dt.ByteSize():], dt.ByteSize(), uint64(x))
		}
	}
	return SetRaw(t, dt, dims, raw)
}

func intRange(dt DataType) (lo, hi int64) {
	switch dt {
	case Bool:
		return 0, 1
	case Uint64:
		return 0, math.MaxInt64
	case Int64:
		return math.MinInt64, math.MaxInt64
	}
	bits := dt.Bits()
	switch dt {
	case Int8, Int16, Int32, Int4, Int2:
		return -(1 << (bits - 1)), 1<<(bits-1) - 1
	}
	return 0, 1<<bits - 1
}

// SetStrings stores the elements of a STRING tensor.
func SetStrings(t *onnxpb.TensorProto, dims []int64, vals [][]byte) error {
	n, err := numElements(dims)
	if err != nil {
		return fmt.Errorf("set tensor %q: %w", t.GetName(), err)
	}
	if int64(len(vals)) != n {
		return fmt.Errorf("set tensor %q: dims %v need %d strings, got %d", t.GetName(), dims, n, len(vals))
	}
	clearData(t)
	t.Dims = append([]int64(nil), dims...)
	t.DataType = ptr(int32(String))
	t.StringData = vals
	return nil
}

func ptr[T any](v T) *T { return &v }
