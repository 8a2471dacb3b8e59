package quant

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// toHalf converts every float initializer and float value type of m to dt.
func toHalf(t *testing.T, m *onnx.Model, dt onnx.DataType) {
	t.Helper()
	g := m.Proto.GetGraph()
	for i, it := range g.GetInitializer() {
		if onnx.TypeOf(it) != onnx.Float {
			continue
		}
		v, err := onnx.Float32s(m, it)
		if err != nil {
			t.Fatal(err)
		}
		nt := &onnxpb.TensorProto{Name: it.Name}
		if err := onnx.SetFromFloat32s(nt, dt, it.GetDims(), v); err != nil {
			t.Fatal(err)
		}
		g.Initializer[i] = nt
	}
	for _, vi := range append(append([]*onnxpb.ValueInfoProto{}, g.GetInput()...), g.GetOutput()...) {
		if tt := vi.GetType().GetTensorType(); tt != nil && tt.GetElemType() == int32(onnx.Float) {
			e := int32(dt)
			tt.ElemType = &e
		}
	}
}

// declareOutputs gives nbitsNet's outputs their shapes (the Go binding
// needs them for float16 outputs).
func declareOutputs(m *onnx.Model) {
	g := m.Proto.GetGraph()
	for i, d := range [][]int64{{3, 24}, {3, 16}, {3, 64}} {
		vi := tvi(g.Output[i].GetName(), d...)
		vi.GetType().GetTensorType().ElemType = g.Output[i].GetType().GetTensorType().ElemType
		g.Output[i] = vi
	}
}

func halfTensor(t *testing.T, dt onnx.DataType, shape []int64, v []float32) *runtime.Tensor {
	tp := &onnxpb.TensorProto{}
	if err := onnx.SetFromFloat32s(tp, dt, shape, v); err != nil {
		t.Fatal(err)
	}
	return &runtime.Tensor{DataType: dt, Shape: shape, Data: tp.RawData}
}

func halfOutputs(t *testing.T, rt *runtime.Runtime, b []byte, in map[string]*runtime.Tensor, outs []string) map[string][]float32 {
	t.Helper()
	s, err := rt.NewSession(b, runtime.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatalf("ORT rejects the model: %v", err)
	}
	defer s.Close()
	res, err := s.Run(context.Background(), in, outs)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]float32{}
	for k, v := range res {
		tp := &onnxpb.TensorProto{DataType: ptrInt32(int32(v.DataType)), Dims: v.Shape, RawData: v.Data}
		if m[k], err = onnx.AsFloat32s(nil, tp); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// TestFloat16SourcesQuantizeDirectly quantizes a float16 model to int8
// (dynamic) and 4 bits without converting it to float32 first: 4-bit stays
// float16 end to end (no Cast), int8 casts only around the float32-only
// kernels and reports each Cast; both run in ORT close to the float16 model.
func TestFloat16SourcesQuantizeDirectly(t *testing.T) {
	rt := openRuntime(t)
	r := rand.New(rand.NewPCG(21, 22))
	x := randMatrix(r, 3*80, 1)
	in := map[string]*runtime.Tensor{"x": halfTensor(t, onnx.Float16, []int64{3, 80}, x), "ids": runtime.NewTensorInt64([]int64{3}, []int64{0, 9, 4})}
	ref := nbitsNet(t)
	toHalf(t, ref, onnx.Float16)
	declareOutputs(ref)
	want := halfOutputs(t, rt, encode(t, ref), in, []string{"y", "z", "e"})
	for _, o := range []Options{
		{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true},
		{Mode: Dynamic, Format: QDQ, Bits: 4, BlockSize: 16},
	} {
		m := nbitsNet(t)
		toHalf(t, m, onnx.Float16)
		declareOutputs(m)
		res, err := Quantize(context.Background(), m, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, c := range res.NodesQuantized {
			total += c
		}
		if total != 3 {
			t.Fatalf("bits %d: quantized %v, skipped %v", o.Bits, res.NodesQuantized, res.NodesSkipped)
		}
		if o.Bits == 4 && len(res.Casts) != 0 {
			t.Errorf("4-bit float16 model: casts %v, want none (MatMulNBits runs float16)", res.Casts)
		}
		if o.Bits != 4 && len(res.Casts) != 5 {
			// x and y in; the MatMul's, z and e out (the bias Add stays float16)
			t.Errorf("int8 float16 model: %d casts %v", len(res.Casts), res.Casts)
		}
		got := halfOutputs(t, rt, encode(t, m), in, []string{"y", "z", "e"})
		for _, name := range []string{"y", "z", "e"} {
			if c := cosine(got[name], want[name]); c < 0.98 {
				t.Errorf("bits %d output %s: cosine %.4f to the float16 model", o.Bits, name, c)
			}
		}
	}
}

// TestBFloat16Casts: ORT's CPU provider has no bfloat16 MatMulNBits, so a
// bfloat16 model gets Casts around each kernel, float32 scales, and a
// report of every Cast.
func TestBFloat16Casts(t *testing.T) {
	m := nbitsNet(t)
	toHalf(t, m, onnx.BFloat16)
	res, err := Quantize(context.Background(), m, Options{Mode: Dynamic, Format: QDQ, Bits: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Casts) != 5 { // x, y in; y, z, e out
		t.Errorf("casts %+v", res.Casts)
	}
	for _, it := range m.Proto.GetGraph().GetInitializer() {
		if it.GetName() == "W_scales" && onnx.TypeOf(it) != onnx.Float {
			t.Errorf("scales are %v, want FLOAT for the float32 kernel", onnx.TypeOf(it))
		}
	}
	if err := onnx.Check(m); err != nil {
		t.Error(err)
	}
}
