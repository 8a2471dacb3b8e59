package quant

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
	"google.golang.org/protobuf/proto"
)

// scanNet runs MatMul(x_t, W) over the 5 steps of xs [5,1,16] with Scan.
func scanNet(t *testing.T) *onnx.Model {
	r := rand.New(rand.NewPCG(8, 8))
	body := &onnxpb.GraphProto{Name: proto.String("scan_body"),
		Input:  []*onnxpb.ValueInfoProto{tvi("x_t", 1, 16)},
		Output: []*onnxpb.ValueInfoProto{tvi("y_t", 1, 16)},
		Node:   []*onnxpb.NodeProto{node("MatMul", "", "scan_mm", []string{"x_t", "W"}, []string{"y_t"})}}
	g := &onnxpb.GraphProto{Name: proto.String("scan"),
		Input:       []*onnxpb.ValueInfoProto{tvi("xs", 5, 1, 16)},
		Output:      []*onnxpb.ValueInfoProto{tvi("ys", 5, 1, 16)},
		Initializer: []*onnxpb.TensorProto{randInit(t, r, "W", 16, 16)},
		Node: []*onnxpb.NodeProto{node("Scan", "", "scan", []string{"xs"}, []string{"ys"},
			graphAttr("body", body), attrInt("num_scan_inputs", 1))}}
	return model(g, 13)
}

func TestScanBodyDynamicAndStatic(t *testing.T) {
	rt := openRuntime(t)
	r := rand.New(rand.NewPCG(4, 4))
	xs := make([]float32, 80)
	for i := range xs {
		xs[i] = r.Float32()*2 - 1
	}
	in := map[string]*runtime.Tensor{"xs": newF32([]int64{5, 1, 16}, xs)}
	for _, opts := range []Options{
		{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true},
		{Mode: Static, Format: QDQ, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true},
		{Mode: Static, Format: QOperator, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true},
	} {
		m := scanNet(t)
		fp := encode(t, m)
		var ranges map[string]Range
		if opts.Mode == Static {
			batch := &data.Batch{Rows: 5, Inputs: map[string]*data.Tensor{"xs": {DType: data.Float32, Shape: []int64{5, 1, 16}, Data: f32bytes(xs)}}}
			var err error
			ranges, _, err = Calibrate(context.Background(), rt, m, CalibrationTensors(m, opts), &batchList{b: []*data.Batch{batch}}, CalibrationOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := ranges["y_t"]; !ok {
				t.Fatalf("no range for the Scan body output y_t: %v", ranges)
			}
		}
		res, err := Quantize(context.Background(), m, opts, ranges)
		if err != nil {
			t.Fatal(err)
		}
		if res.NodesQuantized["MatMul"] != 1 {
			t.Fatalf("%s/%s: quantized %v skipped %v", opts.Mode, opts.Format, res.NodesQuantized, res.NodesSkipped)
		}
		a := runAll(t, rt, fp, in, []string{"ys"})["ys"]
		b := runAll(t, rt, encode(t, m), in, []string{"ys"})["ys"]
		if c := cosine(a, b); c < 0.99 {
			t.Errorf("%s/%s: cosine %.4f", opts.Mode, opts.Format, c)
		}
	}
}
