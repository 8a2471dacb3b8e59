package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Element is a Go type with a one-to-one ONNX element type: float32 FLOAT,
// float64 DOUBLE, intN/uintN the matching integer types, bool BOOL,
// complex64/complex128 COMPLEX64/COMPLEX128.
type Element interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | bool | complex64 | complex128
}

// ElementType returns the ONNX element type matching T.
func ElementType[T Element]() DataType {
	var zero T
	switch any(zero).(type) {
	case float32:
		return Float
	case float64:
		return Double
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case bool:
		return Bool
	case complex64:
		return Complex64
	case complex128:
		return Complex128
	}
	return Undefined
}

// Values returns the elements of t as []T; t's type must be ElementType[T]
// (use AsFloat64s / AsInt64s for conversions, and for FLOAT16, float8 and
// 4-bit types). The result is a fresh slice the caller owns.
func Values[T Element](m *Model, t *onnxpb.TensorProto) ([]T, error) {
	want := ElementType[T]()
	if TypeOf(t) != want {
		return nil, fmt.Errorf("tensor %q is %v, not %v", t.GetName(), TypeOf(t), want)
	}
	raw, err := RawBytes(m, t)
	if err != nil {
		return nil, err
	}
	size := want.ByteSize()
	out := make([]T, len(raw)/size)
	le := binary.LittleEndian
	switch o := any(out).(type) {
	case []float32:
		for i := range o {
			o[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case []float64:
		for i := range o {
			o[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
	case []int8:
		for i := range o {
			o[i] = int8(raw[i])
		}
	case []uint8:
		copy(o, raw)
	case []int16:
		for i := range o {
			o[i] = int16(le.Uint16(raw[2*i:]))
		}
	case []uint16:
		for i := range o {
			o[i] = le.Uint16(raw[2*i:])
		}
	case []int32:
		for i := range o {
			o[i] = int32(le.Uint32(raw[4*i:]))
		}
	case []uint32:
		for i := range o {
			o[i] = le.Uint32(raw[4*i:])
		}
	case []int64:
		for i := range o {
			o[i] = int64(le.Uint64(raw[8*i:]))
		}
	case []uint64:
		for i := range o {
			o[i] = le.Uint64(raw[8*i:])
		}
	case []bool:
		for i := range o {
			o[i] = raw[i] != 0
		}
	case []complex64:
		for i := range o {
			o[i] = complex(math.Float32frombits(le.Uint32(raw[8*i:])), math.Float32frombits(le.Uint32(raw[8*i+4:])))
		}
	case []complex128:
		for i := range o {
			o[i] = complex(math.Float64frombits(le.Uint64(raw[16*i:])), math.Float64frombits(le.Uint64(raw[16*i+8:])))
		}
	}
	return out, nil
}

// Float32s returns the elements of a FLOAT tensor.
func Float32s(m *Model, t *onnxpb.TensorProto) ([]float32, error) { return Values[float32](m, t) }

// Int64s returns the elements of an INT64 tensor.
func Int64s(m *Model, t *onnxpb.TensorProto) ([]int64, error) { return Values[int64](m, t) }

// AsFloat64s returns the elements of any real numeric tensor (floats of
// every width including FLOAT16, BFLOAT16, float8 and float4, integers of
// every width including 4- and 2-bit, BOOL) converted to float64.
func AsFloat64s(m *Model, t *onnxpb.TensorProto) ([]float64, error) {
	dt := TypeOf(t)
	if dt.IsInteger() || dt == Bool {
		ints, err := AsInt64s(m, t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(ints))
		for i, v := range ints {
			out[i] = float64(v)
		}
		return out, nil
	}
	if !dt.IsFloat() {
		return nil, fmt.Errorf("tensor %q is %v, which has no real-number conversion", t.GetName(), dt)
	}
	raw, err := RawBytes(m, t)
	if err != nil {
		return nil, err
	}
	n, _ := NumElements(t)
	out := make([]float64, n)
	le := binary.LittleEndian
	for i := range out {
		switch dt {
		case Float:
			out[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
		case Double:
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		case Float16:
			out[i] = float64(Float16ToFloat32(le.Uint16(raw[2*i:])))
		case BFloat16:
			out[i] = float64(BFloat16ToFloat32(le.Uint16(raw[2*i:])))
		case Float4E2M1:
			out[i] = float64(Float8ToFloat32(dt, unpackSub(raw, 4, i)))
		default:
			out[i] = float64(Float8ToFloat32(dt, raw[i]))
		}
	}
	return out, nil
}

// AsFloat32s is AsFloat64s narrowed to float32.
func AsFloat32s(m *Model, t *onnxpb.TensorProto) ([]float32, error) {
	if TypeOf(t) == Float {
		return Float32s(m, t)
	}
	f64, err := AsFloat64s(m, t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(f64))
	for i, v := range f64 {
		out[i] = float32(v)
	}
	return out, nil
}

// AsInt64s returns the elements of any integer or BOOL tensor as int64,
// unpacking INT4/UINT4/INT2/UINT2 (sign-extended for the signed ones).
// UINT64 values above MaxInt64 wrap; use Values[uint64] for those.
func AsInt64s(m *Model, t *onnxpb.TensorProto) ([]int64, error) {
	dt := TypeOf(t)
	if !dt.IsInteger() && dt != Bool {
		return nil, fmt.Errorf("tensor %q is %v, not an integer type", t.GetName(), dt)
	}
	raw, err := RawBytes(m, t)
	if err != nil {
		return nil, err
	}
	n, _ := NumElements(t)
	out := make([]int64, n)
	le := binary.LittleEndian
	for i := range out {
		switch dt {
		case Int8:
			out[i] = int64(int8(raw[i]))
		case Uint8, Bool:
			out[i] = int64(raw[i])
		case Int16:
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		case Uint16:
			out[i] = int64(le.Uint16(raw[2*i:]))
		case Int32:
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		case Uint32:
			out[i] = int64(le.Uint32(raw[4*i:]))
		case Int64, Uint64:
			out[i] = int64(le.Uint64(raw[8*i:]))
		case Uint4, Uint2:
			out[i] = int64(unpackSub(raw, dt.Bits(), i))
		case Int4, Int2:
			bits := dt.Bits()
			v := int64(unpackSub(raw, bits, i))
			if v >= 1<<(bits-1) {
				v -= 1 << bits
			}
			out[i] = v
		}
	}
	return out, nil
}
