package data

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// DType is the element type of a Tensor. It mirrors the numeric ONNX tensor
// types that models take as inputs; callers map their own enum with
// ParseDType(x.String()).
type DType uint8

// Element types. Invalid is the zero value so a forgotten field is caught.
const (
	Invalid DType = iota
	Float32
	Float64
	Int8
	Int16
	Int32
	Int64
	Uint8
	Uint16
	Uint32
	Uint64
	Bool
)

var dtypeNames = [...]string{
	Invalid: "invalid", Float32: "float32", Float64: "float64", Int8: "int8", Int16: "int16",
	Int32: "int32", Int64: "int64", Uint8: "uint8", Uint16: "uint16", Uint32: "uint32",
	Uint64: "uint64", Bool: "bool",
}

var dtypeSizes = [...]int{
	Float32: 4, Float64: 8, Int8: 1, Int16: 2, Int32: 4, Int64: 8, Uint8: 1, Uint16: 2,
	Uint32: 4, Uint64: 8, Bool: 1,
}

// String returns the numpy-style name ("float32", "int64", ...).
func (d DType) String() string {
	if int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size is the number of bytes of one element (0 for Invalid).
func (d DType) Size() int {
	if int(d) < len(dtypeSizes) {
		return dtypeSizes[d]
	}
	return 0
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 }

// ParseDType accepts numpy names ("float32"), ONNX names ("FLOAT", "INT64",
// "TENSOR(FLOAT)") and KServe v2 names ("FP32", "INT64", "BOOL"),
// case-insensitively.
func ParseDType(s string) (DType, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	n = strings.TrimSuffix(strings.TrimPrefix(n, "tensor("), ")")
	switch n {
	case "float32", "float", "fp32", "f4", "single":
		return Float32, nil
	case "float64", "double", "fp64", "f8":
		return Float64, nil
	case "int8", "i1":
		return Int8, nil
	case "int16", "i2":
		return Int16, nil
	case "int32", "i4":
		return Int32, nil
	case "int64", "i8", "long":
		return Int64, nil
	case "uint8", "u1":
		return Uint8, nil
	case "uint16", "u2":
		return Uint16, nil
	case "uint32", "u4":
		return Uint32, nil
	case "uint64", "u8":
		return Uint64, nil
	case "bool", "b1":
		return Bool, nil
	}
	return Invalid, fmt.Errorf("unsupported element type %q (want one of float32, float64, int8..int64, uint8..uint64, bool)", s)
}

// decode reads element i of little-endian buffer b as float64.
func decode(d DType, b []byte, i int) float64 {
	switch d {
	case Float32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	case Float64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	case Int8:
		return float64(int8(b[i]))
	case Int16:
		return float64(int16(binary.LittleEndian.Uint16(b[2*i:])))
	case Int32:
		return float64(int32(binary.LittleEndian.Uint32(b[4*i:])))
	case Int64:
		return float64(int64(binary.LittleEndian.Uint64(b[8*i:])))
	case Uint8, Bool:
		return float64(b[i])
	case Uint16:
		return float64(binary.LittleEndian.Uint16(b[2*i:]))
	case Uint32:
		return float64(binary.LittleEndian.Uint32(b[4*i:]))
	case Uint64:
		return float64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return math.NaN()
}

// decodeInt reads element i of b as int64 without the float64 detour, so
// large integer ids survive.
func decodeInt(d DType, b []byte, i int) int64 {
	switch d {
	case Int64:
		return int64(binary.LittleEndian.Uint64(b[8*i:]))
	case Uint64:
		return int64(binary.LittleEndian.Uint64(b[8*i:]))
	case Int32:
		return int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return int64(decode(d, b, i))
}

// encode writes v as element i of little-endian buffer b, converting like
// numpy's astype (truncation towards zero for integer targets).
func encode(d DType, b []byte, i int, v float64) {
	switch d {
	case Float32:
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(v)))
	case Float64:
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
	case Int8:
		b[i] = byte(int8(v))
	case Int16:
		binary.LittleEndian.PutUint16(b[2*i:], uint16(int16(v)))
	case Int32:
		binary.LittleEndian.PutUint32(b[4*i:], uint32(int32(v)))
	case Int64:
		binary.LittleEndian.PutUint64(b[8*i:], uint64(int64(v)))
	case Uint8:
		b[i] = byte(v)
	case Bool:
		if v != 0 {
			b[i] = 1
		} else {
			b[i] = 0
		}
	case Uint16:
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	case Uint32:
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	case Uint64:
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
}
