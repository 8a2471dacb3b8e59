package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// NumElements is the product of t's dims (1 for a scalar). It fails on a
// negative dim or a product that overflows int64.
func NumElements(t *onnxpb.TensorProto) (int64, error) {
	return numElements(t.GetDims())
}

func numElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("dims %v: negative dimension", dims)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("dims %v: element count overflows", dims)
		}
		n *= d
	}
	return n, nil
}

// TypeOf returns the element type of t.
func TypeOf(t *onnxpb.TensorProto) DataType { return DataType(t.GetDataType()) }

// DataBytes is the size of t's element data computed from dims and type
// (not read from the tensor), or -1 for strings and unknown types.
func DataBytes(t *onnxpb.TensorProto) int64 {
	n, err := NumElements(t)
	if err != nil {
		return -1
	}
	return TypeOf(t).StorageBytes(n)
}

// RawBytes returns t's elements as little-endian bytes in raw_data layout,
// wherever they are stored: raw_data and external data are returned without
// copying (treat the slice as read-only; external slices live until
// m.Close), typed repeated fields are converted. m may be nil for tensors
// that are not external. Strings have no raw layout: use Strings.
func RawBytes(m *Model, t *onnxpb.TensorProto) ([]byte, error) {
	dt := TypeOf(t)
	if dt == String {
		return nil, fmt.Errorf("tensor %q holds strings, which have no raw byte layout", t.GetName())
	}
	n, err := NumElements(t)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	want := dt.StorageBytes(n)
	if want < 0 {
		if dt.Bits() > 0 {
			return nil, fmt.Errorf("tensor %q: %v%v: byte size overflows", t.GetName(), dt, t.GetDims())
		}
		return nil, fmt.Errorf("tensor %q: element type %v is not supported", t.GetName(), dt)
	}
	var b []byte
	switch {
	case IsExternal(t):
		if m == nil {
			return nil, fmt.Errorf("tensor %q is stored externally; pass the model it belongs to", t.GetName())
		}
		if b, err = m.externalBytes(t); err != nil {
			return nil, err
		}
	case t.RawData != nil:
		b = t.RawData
	default:
		return typedToRaw(t, dt, n, want)
	}
	if int64(len(b)) != want {
		return nil, fmt.Errorf("tensor %q: %v%v needs %d bytes of data, found %d", t.GetName(), dt, t.GetDims(), want, len(b))
	}
	return b, nil
}

// typedToRaw converts the typed repeated fields to raw bytes. Lengths are
// checked before allocating, so dims cannot request more memory than the
// decoded data already occupies.
func typedToRaw(t *onnxpb.TensorProto, dt DataType, n, want int64) ([]byte, error) {
	mismatch := func(field string, have int, need int64) error {
		return fmt.Errorf("tensor %q: %v%v needs %d values in %s, found %d", t.GetName(), dt, t.GetDims(), need, field, have)
	}
	switch dt {
	case Float, Complex64:
		if int64(len(t.FloatData)) != want/4 {
			return nil, mismatch("float_data", len(t.FloatData), want/4)
		}
		out := make([]byte, want)
		for i, v := range t.FloatData {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
		}
		return out, nil
	case Double, Complex128:
		if int64(len(t.DoubleData)) != want/8 {
			return nil, mismatch("double_data", len(t.DoubleData), want/8)
		}
		out := make([]byte, want)
		for i, v := range t.DoubleData {
			binary.LittleEndian.PutUint64(out[8*i:], math.Float64bits(v))
		}
		return out, nil
	case Int64:
		if int64(len(t.Int64Data)) != n {
			return nil, mismatch("int64_data", len(t.Int64Data), n)
		}
		out := make([]byte, want)
		for i, v := range t.Int64Data {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		}
		return out, nil
	case Uint32, Uint64:
		if int64(len(t.Uint64Data)) != n {
			return nil, mismatch("uint64_data", len(t.Uint64Data), n)
		}
		size := dt.ByteSize()
		out := make([]byte, want)
		for i, v := range t.Uint64Data {
			putUint(out[size*i:], size, v)
		}
		return out, nil
	case Uint4, Int4, Float4E2M1, Uint2, Int2:
		// int32_data holds the packed bytes (ONNX helper layout); accept one
		// element per value as well and pack it.
		switch int64(len(t.Int32Data)) {
		case want:
			out := make([]byte, want)
			for i, v := range t.Int32Data {
				out[i] = byte(v)
			}
			return out, nil
		case n:
			bits := dt.Bits()
			out := make([]byte, want)
			for i, v := range t.Int32Data {
				packSub(out, bits, i, uint8(v))
			}
			return out, nil
		}
		return nil, mismatch("int32_data", len(t.Int32Data), want)
	case Int32, Int16, Int8, Uint16, Uint8, Bool, Float16, BFloat16,
		Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0:
		if int64(len(t.Int32Data)) != n {
			return nil, mismatch("int32_data", len(t.Int32Data), n)
		}
		size := dt.ByteSize()
		out := make([]byte, want)
		for i, v := range t.Int32Data {
			putUint(out[size*i:], size, uint64(uint32(v)))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q: element type %v is not supported", t.GetName(), dt)
}

func putUint(b []byte, size int, v uint64) {
	switch size {
	case 1:
		b[0] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	}
}

// packSub stores the low bits of v as element i of a packed sub-byte array
// (first element in the least significant bits, as ONNX specifies).
func packSub(b []byte, bits, i int, v uint8) {
	per := 8 / bits
	shift := uint(i%per) * uint(bits)
	mask := uint8(1<<bits-1) << shift
	b[i/per] = b[i/per]&^mask | (v<<shift)&mask
}

func unpackSub(b []byte, bits, i int) uint8 {
	per := 8 / bits
	shift := uint(i%per) * uint(bits)
	return (b[i/per] >> shift) & uint8(1<<bits-1)
}

// Strings returns the elements of a STRING tensor.
func Strings(t *onnxpb.TensorProto) ([][]byte, error) {
	if TypeOf(t) != String {
		return nil, fmt.Errorf("tensor %q is %v, not STRING", t.GetName(), TypeOf(t))
	}
	n, err := NumElements(t)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.GetName(), err)
	}
	if int64(len(t.StringData)) != n {
		return nil, fmt.Errorf("tensor %q: STRING%v needs %d values in string_data, found %d", t.GetName(), t.GetDims(), n, len(t.StringData))
	}
	return t.StringData, nil
}
