package quant

import (
	"math"
	"testing"
)

func TestQuantizeWeightPerChannelAxis(t *testing.T) {
	// A [2,3] tensor: rows have very different ranges.
	data := []float32{1, -2, 0.5, 100, 50, -25}
	shape := []int64{2, 3}

	w, err := QuantizeWeight(data, shape, WeightOptions{Type: Int8, Symmetric: true, PerChannel: true, Axis: 0})
	if err != nil {
		t.Fatal(err)
	}
	// axis 0: scales 2/127 and 100/127
	want := []float32{2.0 / 127, 100.0 / 127}
	for i, s := range w.Scales() {
		if math.Abs(float64(s-want[i])) > 1e-7 {
			t.Errorf("axis 0 scale %d = %v, want %v", i, s, want[i])
		}
	}
	// row 0: 1/(2/127) = 63.5 -> 64 (half to even), -2 -> -127, 0.5 -> 31.75 -> 32
	gotRow0 := []int32{ByteValue(w.Data[0], Int8), ByteValue(w.Data[1], Int8), ByteValue(w.Data[2], Int8)}
	if gotRow0[0] != 64 || gotRow0[1] != -127 || gotRow0[2] != 32 {
		t.Errorf("row 0 = %v, want [64 -127 32]", gotRow0)
	}

	w, err = QuantizeWeight(data, shape, WeightOptions{Type: Int8, Symmetric: true, PerChannel: true, Axis: 1})
	if err != nil {
		t.Fatal(err)
	}
	// axis 1: columns {1,100}, {-2,50}, {0.5,-25}
	want = []float32{100.0 / 127, 50.0 / 127, 25.0 / 127}
	for i, s := range w.Scales() {
		if math.Abs(float64(s-want[i])) > 1e-7 {
			t.Errorf("axis 1 scale %d = %v, want %v", i, s, want[i])
		}
	}
	if len(w.ZeroPointBytes()) != 3 {
		t.Errorf("want 3 zero points")
	}
}

func TestQuantizeWeightPerTensorUint8(t *testing.T) {
	w, err := QuantizeWeight([]float32{-1, 0, 2}, []int64{3}, WeightOptions{Type: Uint8})
	if err != nil {
		t.Fatal(err)
	}
	// scale 3/255, zp 85: -1 -> 0, 0 -> 85, 2 -> 255
	if w.Data[0] != 0 || w.Data[1] != 85 || w.Data[2] != 255 || w.ZeroPointBytes()[0] != 85 {
		t.Errorf("got %v zp %v", w.Data, w.ZeroPointBytes())
	}
}

func TestQuantizeWeightErrors(t *testing.T) {
	if _, err := QuantizeWeight([]float32{1, 2}, []int64{3}, WeightOptions{}); err == nil {
		t.Error("size mismatch should fail")
	}
	if _, err := QuantizeWeight([]float32{1, 2}, []int64{2}, WeightOptions{PerChannel: true, Axis: 3}); err == nil {
		t.Error("bad axis should fail")
	}
}

func TestQuantizeBiasInt32(t *testing.T) {
	q, scales, err := QuantizeBias([]float32{1, -1, 0.25}, 0.5, []float32{0.1, 0.2, 0.3})
	if err != nil {
		t.Fatal(err)
	}
	// scales 0.05, 0.1, 0.15: 1/0.05=20, -1/0.1=-10, 0.25/0.15=1.67->2
	if q[0] != 20 || q[1] != -10 || q[2] != 2 {
		t.Errorf("bias = %v", q)
	}
	if math.Abs(float64(scales[1]-0.1)) > 1e-7 {
		t.Errorf("bias scale = %v", scales)
	}
	if _, _, err := QuantizeBias([]float32{1, 2}, 1, []float32{1, 2, 3}); err == nil {
		t.Error("scale count mismatch should fail")
	}
}
