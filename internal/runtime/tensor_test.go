package runtime

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
)

func TestTensorConstructorsAndAccessors(t *testing.T) {
	f := NewTensorFloat32([]int64{2}, []float32{1.5, -2})
	if f.DataType != onnx.Float || len(f.Data) != 8 || f.Validate() != nil {
		t.Fatalf("NewTensorFloat32: %+v", f)
	}
	if v, err := f.Float32s(); err != nil || fmt.Sprint(v) != "[1.5 -2]" {
		t.Errorf("Float32s = %v, %v", v, err)
	}
	if _, err := f.Int64s(); err == nil || !strings.Contains(err.Error(), "holds FLOAT, not INT64") {
		t.Errorf("Int64s on FLOAT: %v", err)
	}
	// Little-endian bytes: 1.5 is 0x3fc00000.
	if fmt.Sprintf("% x", f.Data[:4]) != "00 00 c0 3f" {
		t.Errorf("bytes of 1.5 = % x", f.Data[:4])
	}
	i := NewTensorInt64([]int64{3}, []int64{1, -1, 1 << 40})
	if v, _ := i.AsFloat32s(); fmt.Sprint(v) != "[1 -1 1.0995116e+12]" {
		t.Errorf("AsFloat32s(INT64) = %v", v)
	}
	h := NewTensorFloat16([]int64{2}, []float32{0.5, 3})
	if v, err := h.AsFloat32s(); err != nil || fmt.Sprint(v) != "[0.5 3]" {
		t.Errorf("AsFloat32s(FLOAT16) = %v, %v", v, err)
	}
	b := NewTensorBFloat16([]int64{1}, []float32{-0.25})
	if v, _ := b.AsFloat32s(); fmt.Sprint(v) != "[-0.25]" {
		t.Errorf("AsFloat32s(BFLOAT16) = %v", v)
	}
	s := NewTensorString([]int64{1}, []string{"a"})
	if _, err := s.AsFloat32s(); err == nil {
		t.Error("AsFloat32s(STRING) should fail")
	}
	if v, err := s.StringValues(); err != nil || v[0] != "a" {
		t.Errorf("StringValues = %v, %v", v, err)
	}
	if v, _ := NewTensorBool([]int64{2}, []bool{true, false}).Bools(); fmt.Sprint(v) != "[true false]" {
		t.Errorf("Bools = %v", v)
	}
	// ShareTensor shares: the tensor sees later changes to the slice.
	shared := []int32{1, 2}
	st := ShareTensor([]int64{2}, shared)
	shared[1] = 7
	if v, _ := st.Int32s(); fmt.Sprint(v) != "[1 7]" || st.DataType != onnx.Int32 {
		t.Errorf("ShareTensor = %v %v", st.DataType, v)
	}
	// The constructor copies: changing the caller's slice later changes nothing.
	src := []float32{1}
	c := NewTensorFloat32([]int64{1}, src)
	src[0] = 9
	if v, _ := c.Float32s(); v[0] != 1 {
		t.Error("NewTensorFloat32 did not copy its input")
	}
}

func TestTensorValidate(t *testing.T) {
	cases := []struct {
		t    *Tensor
		want string
	}{
		{NewTensorFloat32([]int64{2, 2}, []float32{1, 2, 3}), "needs 16 bytes, got 12"},
		{NewTensorFloat32([]int64{-1}, nil), "invalid shape"},
		{NewTensorString([]int64{2}, []string{"a"}), "needs 2 strings, got 1"},
		{&Tensor{DataType: 99, Shape: []int64{1}, Data: []byte{1}}, "unsupported element type"},
		{&Tensor{DataType: onnx.Int4, Shape: []int64{3}, Data: []byte{1}}, "needs 2 bytes, got 1"},
	}
	for _, c := range cases {
		if err := c.t.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%v %v) = %v, want %q", c.t.DataType, c.t.Shape, err, c.want)
		}
	}
	if err := (&Tensor{DataType: onnx.Int4, Shape: []int64{3}, Data: []byte{1, 2}}).Validate(); err != nil {
		t.Errorf("INT4 [3] in 2 bytes: %v", err)
	}
	if err := NewTensorInt32([]int64{}, []int32{5}).Validate(); err != nil {
		t.Errorf("scalar: %v", err)
	}
}
