package quant

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"google.golang.org/protobuf/proto"
)

// gemmNet is Gemm(x[4,8], B, C) with the given transB, alpha and beta; the
// output channels have very different ranges so a wrong per-channel axis
// shows up as a large error.
func gemmNet(t *testing.T, transB int64, alpha, beta float32) *onnx.Model {
	r := rand.New(rand.NewPCG(11, uint64(transB)))
	dims := []int64{8, 6}
	if transB == 1 {
		dims = []int64{6, 8}
	}
	b := randInit(t, r, "B", dims...)
	vals, _ := onnx.Float32s(nil, b)
	for i := range vals {
		col := i % 6
		if transB == 1 {
			col = i / 8
		}
		vals[i] *= float32(int(1) << (4 * col)) // channel c scaled by 16^c
	}
	b, _ = floatTensor("B", dims, vals)
	f := func(n string, v float32) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(n), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
	}
	g := &onnxpb.GraphProto{Name: proto.String("gemm"), Input: []*onnxpb.ValueInfoProto{tvi("x", 4, 8)},
		Output:      []*onnxpb.ValueInfoProto{tvi("y", 4, 6)},
		Initializer: []*onnxpb.TensorProto{b, randInit(t, r, "C", 6)},
		Node: []*onnxpb.NodeProto{node("Gemm", "", "gemm", []string{"x", "B", "C"}, []string{"y"},
			attrInt("transB", transB), f("alpha", alpha), f("beta", beta))}}
	return model(g, 13)
}

func TestGemmPerChannelAxisAndAttributes(t *testing.T) {
	rt := openRuntime(t)
	r := rand.New(rand.NewPCG(2, 3))
	x := make([]float32, 32)
	for i := range x {
		x[i] = r.Float32()*2 - 1
	}
	in := map[string]*runtime.Tensor{"x": newF32([]int64{4, 8}, x)}
	for _, transB := range []int64{0, 1} {
		for _, opts := range []Options{
			{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true, PerChannel: []string{"Gemm"}},
			{Mode: Static, Format: QDQ, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true, PerChannel: []string{"Gemm"}},
			{Mode: Static, Format: QOperator, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true, PerChannel: []string{"Gemm"}},
		} {
			m := gemmNet(t, transB, 0.5, 2)
			fp := encode(t, m)
			ref := runAll(t, rt, fp, in, []string{"y"})["y"]
			var ranges map[string]Range
			if opts.Mode == Static {
				lo, hi := minMax(x)
				ylo, yhi := minMax(ref)
				ranges = map[string]Range{"x": {lo, hi}, "y": {ylo, yhi}}
			}
			if _, err := Quantize(context.Background(), m, opts, ranges); err != nil {
				t.Fatal(err)
			}
			got := runAll(t, rt, encode(t, m), in, []string{"y"})["y"]
			if cs := cosine(ref, got); cs < 0.99 {
				t.Errorf("transB=%d %s/%s: output cosine %.4f", transB, opts.Mode, opts.Format, cs)
			}
			// The weight scales follow the output channels (16x apart).
			var scales []float32
			for _, init := range m.Proto.Graph.Initializer {
				if init.GetName() == "B_scale" {
					scales, _ = onnx.Float32s(nil, init)
				}
			}
			if len(scales) != 6 {
				t.Fatalf("transB=%d %s/%s: %d weight scales, want 6", transB, opts.Mode, opts.Format, len(scales))
			}
			for c := 1; c < 6; c++ {
				if ratio := scales[c] / scales[c-1]; ratio < 4 || ratio > 64 {
					t.Errorf("transB=%d %s/%s: scale ratio channel %d/%d = %.2f, want about 16 (wrong axis?)", transB, opts.Mode, opts.Format, c, c-1, ratio)
				}
			}
			if opts.Mode == Static {
				continue // per-tensor output quantization limits the small channels; checked above
			}
			// Dynamic keeps outputs float: every channel must survive.
			for c := 0; c < 6; c++ {
				var a, b []float32
				for row := 0; row < 4; row++ {
					a = append(a, ref[row*6+c])
					b = append(b, got[row*6+c])
				}
				if cs := cosine(a, b); cs < 0.98 {
					t.Errorf("transB=%d %s/%s: channel %d cosine %.4f (wrong per-channel axis?)", transB, opts.Mode, opts.Format, c, cs)
				}
			}
		}
	}
}
