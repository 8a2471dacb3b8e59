package runtime

import (
	"fmt"
	"unsafe"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// Tensor is a dense tensor as Go sees it: element type, shape, and either
// the elements' bytes in little-endian row-major order (Data) or, for
// STRING tensors, the strings (Strings). A rank-0 tensor (scalar) has an
// empty Shape and one element.
type Tensor struct {
	DataType onnx.DataType
	Shape    []int64
	Data     []byte
	Strings  []string
}

// Elements is the number of elements the shape describes, or -1 when a
// dimension is negative or the product overflows.
func (t *Tensor) Elements() int64 {
	return elements(t.Shape)
}

func elements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > (1<<62)/d {
			return -1
		}
		n *= d
	}
	return n
}

// Validate checks that the data matches the type and shape.
func (t *Tensor) Validate() error {
	n := t.Elements()
	if n < 0 {
		return fmt.Errorf("invalid shape %v: dimensions must be non-negative and their product must fit in int64", t.Shape)
	}
	if t.DataType == onnx.String {
		if int64(len(t.Strings)) != n {
			return fmt.Errorf("shape %v needs %d strings, got %d", t.Shape, n, len(t.Strings))
		}
		return nil
	}
	want := t.DataType.StorageBytes(n)
	if want < 0 || !t.DataType.Known() {
		return fmt.Errorf("unsupported element type %s", t.DataType)
	}
	if int64(len(t.Data)) != want {
		return fmt.Errorf("shape %v of %s needs %d bytes, got %d", t.Shape, t.DataType, want, len(t.Data))
	}
	return nil
}

// Element is a Go type that maps one-to-one onto an ONNX element type.
type Element interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int16 | ~uint16 | ~int32 | ~uint32 | ~int64 | ~uint64 | ~bool
}

// DataTypeOf is the ONNX element type of T (UINT16 for uint16: use
// NewTensorFloat16/NewTensorBFloat16 for half-precision bits).
func DataTypeOf[T Element]() onnx.DataType {
	var v T
	switch any(v).(type) {
	case float32:
		return onnx.Float
	case float64:
		return onnx.Double
	case int8:
		return onnx.Int8
	case uint8:
		return onnx.Uint8
	case int16:
		return onnx.Int16
	case uint16:
		return onnx.Uint16
	case int32:
		return onnx.Int32
	case uint32:
		return onnx.Uint32
	case int64:
		return onnx.Int64
	case uint64:
		return onnx.Uint64
	case bool:
		return onnx.Bool
	}
	return onnx.Undefined
}

// NewTensorOf copies values into a new tensor of T's element type. The shape
// is not checked against len(values) here; Validate and Session.Run do that.
func NewTensorOf[T Element](shape []int64, values []T) *Tensor {
	return &Tensor{DataType: DataTypeOf[T](), Shape: cloneShape(shape), Data: bytesOf(values)}
}

// ShareTensor makes a tensor that shares values' memory instead of copying
// it: the cheap way to feed large inputs. Do not change values while a Run
// that uses the tensor is in progress.
func ShareTensor[T Element](shape []int64, values []T) *Tensor {
	return &Tensor{DataType: DataTypeOf[T](), Shape: cloneShape(shape), Data: viewBytes(values)}
}

// viewBytes returns the in-memory bytes of values without copying.
func viewBytes[T Element](values []T) []byte {
	if len(values) == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&values[0])), int(unsafe.Sizeof(values[0]))*len(values))
}

// ValuesOf returns a copy of the tensor's elements as T, or an error when the
// tensor's element type is not T's.
func ValuesOf[T Element](t *Tensor) ([]T, error) {
	want := DataTypeOf[T]()
	if t.DataType != want {
		return nil, fmt.Errorf("tensor holds %s, not %s", t.DataType, want)
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	if len(t.Data)%size != 0 {
		return nil, fmt.Errorf("tensor of %s has %d bytes, not a multiple of %d", t.DataType, len(t.Data), size)
	}
	out := make([]T, len(t.Data)/size)
	if len(out) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), len(t.Data)), t.Data)
	}
	return out, nil
}

// bytesOf copies a slice of fixed-size elements into its in-memory bytes,
// which are little-endian on every platform mlops supports.
func bytesOf[T Element](values []T) []byte {
	if len(values) == 0 {
		return []byte{}
	}
	size := int(unsafe.Sizeof(values[0])) * len(values)
	out := make([]byte, size)
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(&values[0])), size))
	return out
}

func cloneShape(s []int64) []int64 {
	out := make([]int64, len(s))
	copy(out, s)
	return out
}

// NewTensorFloat32 makes a FLOAT tensor.
func NewTensorFloat32(shape []int64, v []float32) *Tensor { return NewTensorOf(shape, v) }

// NewTensorFloat64 makes a DOUBLE tensor.
func NewTensorFloat64(shape []int64, v []float64) *Tensor { return NewTensorOf(shape, v) }

// NewTensorInt8 makes an INT8 tensor.
func NewTensorInt8(shape []int64, v []int8) *Tensor { return NewTensorOf(shape, v) }

// NewTensorUint8 makes a UINT8 tensor.
func NewTensorUint8(shape []int64, v []uint8) *Tensor { return NewTensorOf(shape, v) }

// NewTensorInt16 makes an INT16 tensor.
func NewTensorInt16(shape []int64, v []int16) *Tensor { return NewTensorOf(shape, v) }

// NewTensorUint16 makes a UINT16 tensor.
func NewTensorUint16(shape []int64, v []uint16) *Tensor { return NewTensorOf(shape, v) }

// NewTensorInt32 makes an INT32 tensor.
func NewTensorInt32(shape []int64, v []int32) *Tensor { return NewTensorOf(shape, v) }

// NewTensorUint32 makes a UINT32 tensor.
func NewTensorUint32(shape []int64, v []uint32) *Tensor { return NewTensorOf(shape, v) }

// NewTensorInt64 makes an INT64 tensor.
func NewTensorInt64(shape []int64, v []int64) *Tensor { return NewTensorOf(shape, v) }

// NewTensorUint64 makes a UINT64 tensor.
func NewTensorUint64(shape []int64, v []uint64) *Tensor { return NewTensorOf(shape, v) }

// NewTensorBool makes a BOOL tensor (one byte per element, 0 or 1).
func NewTensorBool(shape []int64, v []bool) *Tensor { return NewTensorOf(shape, v) }

// NewTensorString makes a STRING tensor.
func NewTensorString(shape []int64, v []string) *Tensor {
	s := make([]string, len(v))
	copy(s, v)
	return &Tensor{DataType: onnx.String, Shape: cloneShape(shape), Strings: s}
}

// NewTensorFloat16 makes a FLOAT16 tensor from float32 values, rounding each
// to the nearest half-precision value (ties to even).
func NewTensorFloat16(shape []int64, v []float32) *Tensor {
	bits := make([]uint16, len(v))
	for i, f := range v {
		bits[i] = onnx.Float32ToFloat16(f)
	}
	return &Tensor{DataType: onnx.Float16, Shape: cloneShape(shape), Data: bytesOf(bits)}
}

// NewTensorBFloat16 makes a BFLOAT16 tensor from float32 values, rounding to
// nearest even.
func NewTensorBFloat16(shape []int64, v []float32) *Tensor {
	bits := make([]uint16, len(v))
	for i, f := range v {
		bits[i] = onnx.Float32ToBFloat16(f)
	}
	return &Tensor{DataType: onnx.BFloat16, Shape: cloneShape(shape), Data: bytesOf(bits)}
}

// Float32s returns the elements of a FLOAT tensor.
func (t *Tensor) Float32s() ([]float32, error) { return ValuesOf[float32](t) }

// Float64s returns the elements of a DOUBLE tensor.
func (t *Tensor) Float64s() ([]float64, error) { return ValuesOf[float64](t) }

// Int8s returns the elements of an INT8 tensor.
func (t *Tensor) Int8s() ([]int8, error) { return ValuesOf[int8](t) }

// Uint8s returns the elements of a UINT8 tensor.
func (t *Tensor) Uint8s() ([]uint8, error) { return ValuesOf[uint8](t) }

// Int16s returns the elements of an INT16 tensor.
func (t *Tensor) Int16s() ([]int16, error) { return ValuesOf[int16](t) }

// Uint16s returns the elements of a UINT16 tensor.
func (t *Tensor) Uint16s() ([]uint16, error) { return ValuesOf[uint16](t) }

// Int32s returns the elements of an INT32 tensor.
func (t *Tensor) Int32s() ([]int32, error) { return ValuesOf[int32](t) }

// Uint32s returns the elements of a UINT32 tensor.
func (t *Tensor) Uint32s() ([]uint32, error) { return ValuesOf[uint32](t) }

// Int64s returns the elements of an INT64 tensor.
func (t *Tensor) Int64s() ([]int64, error) { return ValuesOf[int64](t) }

// Uint64s returns the elements of a UINT64 tensor.
func (t *Tensor) Uint64s() ([]uint64, error) { return ValuesOf[uint64](t) }

// Bools returns the elements of a BOOL tensor.
func (t *Tensor) Bools() ([]bool, error) { return ValuesOf[bool](t) }

// StringValues returns the elements of a STRING tensor.
func (t *Tensor) StringValues() ([]string, error) {
	if t.DataType != onnx.String {
		return nil, fmt.Errorf("tensor holds %s, not STRING", t.DataType)
	}
	out := make([]string, len(t.Strings))
	copy(out, t.Strings)
	return out, nil
}

// AsFloat32s widens any real-valued tensor (FLOAT, DOUBLE, FLOAT16,
// BFLOAT16, and integer types) to float32, which is what metrics and
// reports need regardless of the model's precision.
func (t *Tensor) AsFloat32s() ([]float32, error) {
	switch t.DataType {
	case onnx.Float:
		return t.Float32s()
	case onnx.Float16, onnx.BFloat16:
		bits, err := ValuesOf[uint16](&Tensor{DataType: onnx.Uint16, Data: t.Data})
		if err != nil {
			return nil, err
		}
		out := make([]float32, len(bits))
		for i, b := range bits {
			if t.DataType == onnx.Float16 {
				out[i] = onnx.Float16ToFloat32(b)
			} else {
				out[i] = onnx.BFloat16ToFloat32(b)
			}
		}
		return out, nil
	case onnx.Double:
		return convert[float64](t)
	case onnx.Int8:
		return convert[int8](t)
	case onnx.Uint8:
		return convert[uint8](t)
	case onnx.Int16:
		return convert[int16](t)
	case onnx.Uint16:
		return convert[uint16](t)
	case onnx.Int32:
		return convert[int32](t)
	case onnx.Uint32:
		return convert[uint32](t)
	case onnx.Int64:
		return convert[int64](t)
	case onnx.Uint64:
		return convert[uint64](t)
	}
	return nil, fmt.Errorf("cannot read a %s tensor as float32", t.DataType)
}

func convert[T float64 | int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | uint64](t *Tensor) ([]float32, error) {
	v, err := ValuesOf[T](t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}
