package oip

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tensor is one named tensor. Fixed-size elements live in Data as packed
// little-endian values in row-major order; BYTES elements live in Strings.
type Tensor struct {
	Name     string
	Datatype Datatype
	Shape    []int64
	Data     []byte
	Strings  [][]byte
}

// NumElements is the product of the shape, or an error when a dimension is
// negative or the product overflows.
func NumElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n *= d
	}
	return n, nil
}

// Len is the number of elements the tensor holds.
func (t *Tensor) Len() int {
	if t.Datatype == BYTES {
		return len(t.Strings)
	}
	if s := t.Datatype.Size(); s > 0 {
		return len(t.Data) / s
	}
	return 0
}

// Check verifies that the data length agrees with the shape and datatype.
func (t *Tensor) Check() error {
	if !t.Datatype.Valid() {
		return fmt.Errorf("tensor %q: unknown datatype %q", t.Name, t.Datatype)
	}
	n, err := NumElements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if t.Datatype == BYTES {
		if int64(len(t.Strings)) != n {
			return fmt.Errorf("tensor %q: shape %v needs %d elements, got %d", t.Name, t.Shape, n, len(t.Strings))
		}
		return nil
	}
	if want := n * int64(t.Datatype.Size()); int64(len(t.Data)) != want {
		return fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, got %d", t.Name, t.Shape, t.Datatype, want, len(t.Data))
	}
	return nil
}

// Float64 reads element i of a numeric tensor as a float64 (integers and
// booleans are converted). It is used for logging and classifier metrics,
// not on the inference path.
func (t *Tensor) Float64(i int) float64 {
	d := t.Data
	switch t.Datatype {
	case BOOL, UINT8:
		return float64(d[i])
	case INT8:
		return float64(int8(d[i]))
	case UINT16:
		return float64(binary.LittleEndian.Uint16(d[2*i:]))
	case INT16:
		return float64(int16(binary.LittleEndian.Uint16(d[2*i:])))
	case FP16:
		return float64(halfToFloat32(binary.LittleEndian.Uint16(d[2*i:])))
	case BF16:
		return float64(bf16ToFloat32(binary.LittleEndian.Uint16(d[2*i:])))
	case UINT32:
		return float64(binary.LittleEndian.Uint32(d[4*i:]))
	case INT32:
		return float64(int32(binary.LittleEndian.Uint32(d[4*i:])))
	case FP32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:])))
	case UINT64:
		return float64(binary.LittleEndian.Uint64(d[8*i:]))
	case INT64:
		return float64(int64(binary.LittleEndian.Uint64(d[8*i:])))
	case FP64:
		return math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:]))
	}
	return math.NaN()
}

// NewFP32 builds an FP32 tensor; a convenience for backends and tests.
func NewFP32(name string, shape []int64, v []float32) *Tensor {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return &Tensor{Name: name, Datatype: FP32, Shape: shape, Data: b}
}

// Float32s returns the elements of an FP32 tensor.
func (t *Tensor) Float32s() []float32 {
	if t.Datatype != FP32 {
		return nil
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v
}
