package onnx

import (
	"fmt"
	"math"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// DataType is an ONNX tensor element type (TensorProto.DataType). It is an
// int32 so that types newer than this package still round-trip.
type DataType int32

// Element types, numbered as in onnx.proto.
const (
	Undefined      DataType = 0
	Float          DataType = 1
	Uint8          DataType = 2
	Int8           DataType = 3
	Uint16         DataType = 4
	Int16          DataType = 5
	Int32          DataType = 6
	Int64          DataType = 7
	String         DataType = 8
	Bool           DataType = 9
	Float16        DataType = 10
	Double         DataType = 11
	Uint32         DataType = 12
	Uint64         DataType = 13
	Complex64      DataType = 14
	Complex128     DataType = 15
	BFloat16       DataType = 16
	Float8E4M3FN   DataType = 17
	Float8E4M3FNUZ DataType = 18
	Float8E5M2     DataType = 19
	Float8E5M2FNUZ DataType = 20
	Uint4          DataType = 21
	Int4           DataType = 22
	Float4E2M1     DataType = 23
	Float8E8M0     DataType = 24
	Uint2          DataType = 25
	Int2           DataType = 26
)

// bitsOf is the storage size of one element; 0 for STRING and unknown types.
func bitsOf(d DataType) int {
	switch d {
	case Float, Int32, Uint32:
		return 32
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0:
		return 8
	case Uint16, Int16, Float16, BFloat16:
		return 16
	case Int64, Double, Uint64, Complex64:
		return 64
	case Complex128:
		return 128
	case Uint4, Int4, Float4E2M1:
		return 4
	case Uint2, Int2:
		return 2
	}
	return 0
}

// String returns the ONNX name of the type ("FLOAT", "INT64", "FLOAT8E4M3FN"),
// or "DataType(N)" for a number this package does not know.
func (d DataType) String() string {
	if name, ok := onnxpb.TensorProto_DataType_name[int32(d)]; ok {
		return name
	}
	return fmt.Sprintf("DataType(%d)", int32(d))
}

// Known reports whether d is one of the types listed in onnx.proto (other
// than Undefined).
func (d DataType) Known() bool {
	return d > Undefined && d <= Int2
}

// Bits is the storage size of one element in bits (4 for INT4, 128 for
// COMPLEX128), or 0 for STRING and unknown types.
func (d DataType) Bits() int {
	return bitsOf(d)
}

// ByteSize is the size of one element in bytes, rounded up for sub-byte
// types (INT4 → 1), or 0 for STRING and unknown types. Use StorageBytes for
// the size of a whole tensor.
func (d DataType) ByteSize() int {
	return (d.Bits() + 7) / 8
}

// StorageBytes is the number of bytes n elements occupy in raw_data: sub-byte
// types pack several elements per byte, the last byte padded. It returns -1
// for STRING, unknown types, or a size that overflows int64.
func (d DataType) StorageBytes(n int64) int64 {
	bits := int64(d.Bits())
	if bits == 0 || n < 0 {
		return -1
	}
	if bits%8 == 0 {
		if n > math.MaxInt64/(bits/8) {
			return -1
		}
		return n * (bits / 8)
	}
	if n > (math.MaxInt64-7)/bits {
		return -1
	}
	return (n*bits + 7) / 8
}

// IsFloat reports whether d is a real floating-point type (any width).
func (d DataType) IsFloat() bool {
	switch d {
	case Float, Double, Float16, BFloat16, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2,
		Float8E5M2FNUZ, Float4E2M1, Float8E8M0:
		return true
	}
	return false
}

// IsInteger reports whether d is a signed or unsigned integer type.
func (d DataType) IsInteger() bool {
	switch d {
	case Uint8, Int8, Uint16, Int16, Int32, Int64, Uint32, Uint64, Uint4, Int4, Uint2, Int2:
		return true
	}
	return false
}

// ParseDataType accepts an ONNX name in any case ("float", "FLOAT16") or a
// numpy-style alias ("float32", "int64", "bool") and returns the type.
func ParseDataType(s string) (DataType, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if v, ok := onnxpb.TensorProto_DataType_value[u]; ok && v != 0 {
		return DataType(v), nil
	}
	switch u {
	case "FLOAT32", "FP32":
		return Float, nil
	case "FLOAT64", "FP64":
		return Double, nil
	case "FP16", "HALF":
		return Float16, nil
	case "BF16":
		return BFloat16, nil
	}
	return Undefined, fmt.Errorf("unknown tensor element type %q (use an ONNX name such as FLOAT, INT64, FLOAT16)", s)
}
