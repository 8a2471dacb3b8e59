package data

import (
	"fmt"
	"strings"
)

// Tensor is a dense row-major array with little-endian element bytes, the
// same layout runtime.Tensor uses, so a batch input converts without copying.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// NewTensor allocates a zeroed tensor.
func NewTensor(d DType, shape []int64) *Tensor {
	return &Tensor{DType: d, Shape: append([]int64(nil), shape...), Data: make([]byte, int(numElems(shape))*d.Size())}
}

// Len is the number of elements.
func (t *Tensor) Len() int {
	if t.DType.Size() == 0 {
		return 0
	}
	return len(t.Data) / t.DType.Size()
}

// Float64s converts every element to float64.
func (t *Tensor) Float64s() []float64 {
	out := make([]float64, t.Len())
	for i := range out {
		out[i] = decode(t.DType, t.Data, i)
	}
	return out
}

// Float32s converts every element to float32.
func (t *Tensor) Float32s() []float32 {
	out := make([]float32, t.Len())
	for i := range out {
		out[i] = float32(decode(t.DType, t.Data, i))
	}
	return out
}

// Int64s converts every element to int64 (floats truncate towards zero).
func (t *Tensor) Int64s() []int64 {
	out := make([]int64, t.Len())
	for i := range out {
		out[i] = decodeInt(t.DType, t.Data, i)
	}
	return out
}

// Rows is the size of the first dimension (1 for a scalar).
func (t *Tensor) Rows() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return int(t.Shape[0])
}

func numElems(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// FormatShape renders a shape like [batch,1,28,28], printing dynamic
// dimensions (-1) as "?" or by name when names are given.
func FormatShape(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}
