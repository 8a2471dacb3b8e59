package quant

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

func saveModel(t *testing.T, m *onnx.Model, path string) {
	t.Helper()
	if err := m.Save(path, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Every refusal leaves no output file behind.
func TestBadInputWritesNothing(t *testing.T) {
	rt := openRuntime(t)
	dir := t.TempDir()
	dyn := Options{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true}
	static := Options{Mode: Static, Format: QDQ, WeightType: Int8, ActivationType: Uint8, SymmetricWeights: true}

	shared := filepath.Join(dir, "shared.onnx")
	saveModel(t, sharedNet(t), shared)
	quantized := filepath.Join(dir, "quantized.onnx")
	if _, err := Run(context.Background(), nil, Request{Input: shared, Output: quantized, Options: dyn}); err != nil {
		t.Fatal(err)
	}
	relu := filepath.Join(dir, "relu.onnx")
	saveModel(t, model(&onnxpb.GraphProto{Name: proto.String("relu"), Input: []*onnxpb.ValueInfoProto{tvi("x", 1, 4)},
		Output: []*onnxpb.ValueInfoProto{tvi("y", 1, 4)}, Node: []*onnxpb.NodeProto{node("Relu", "", "r", []string{"x"}, []string{"y"})}}, 13), relu)
	old := filepath.Join(dir, "old.onnx")
	m := sharedNet(t)
	m.Proto.OpsetImport[0].Version = proto.Int64(9)
	saveModel(t, m, old)
	mm := filepath.Join(dir, "mm.onnx")
	saveModel(t, model(&onnxpb.GraphProto{Name: proto.String("mm"), Input: []*onnxpb.ValueInfoProto{tvi("v", 2, 16)},
		Output: []*onnxpb.ValueInfoProto{tvi("z", 2, 16)}, Initializer: []*onnxpb.TensorProto{randInit(t, rand.New(rand.NewPCG(1, 1)), "M", 16, 16)},
		Node: []*onnxpb.NodeProto{node("MatMul", "", "mm", []string{"v", "M"}, []string{"z"})}}, 13), mm)
	empty := filepath.Join(dir, "empty.npy")
	writeNPY(t, empty, []int64{0, 16}, nil)
	wrongShape := filepath.Join(dir, "wrong.npy")
	writeNPY(t, wrongShape, []int64{4, 5}, make([]float32, 20))
	mlpSpec := func(p string) data.Spec { return data.Spec{Path: p, BatchSize: 8} }

	cases := []struct {
		name string
		req  Request
		want error
		msg  string
	}{
		{"already quantized", Request{Input: quantized, Options: dyn}, ErrAlreadyQuantized, "quantize the float model instead"},
		{"nothing quantizable", Request{Input: relu, Options: dyn}, ErrNothingToQuantize, "nothing to quantize: no [MatMul Gemm Conv Gather] node could be quantized"},
		{"qoperator below opset 10", Request{Input: old, Options: Options{Mode: Static, Format: QOperator, WeightType: Int8}, Calibration: mlpSpec(empty)}, ErrOpsetTooOld, "opset 9"},
		{"empty calibration", Request{Input: mm, Options: static, Calibration: mlpSpec(empty)}, nil, "no rows"},
		{"wrong calibration shape", Request{Input: mm, Options: static, Calibration: mlpSpec(wrongShape)}, nil, `input "v" expects shape [2,16]`},
		{"static without data", Request{Input: shared, Options: static}, nil, "--calibration-data"},
		{"output is input", Request{Input: shared, Output: shared, Options: dyn}, nil, "is the input model"},
	}
	for _, c := range cases {
		out := c.req.Output
		if out == "" {
			out = filepath.Join(dir, "out-"+filepath.Base(c.name)+".onnx")
			c.req.Output = out
		}
		_, err := Run(context.Background(), rt, c.req)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: message %q does not mention %q", c.name, err, c.msg)
		}
		if out != shared {
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("%s: output %s was written", c.name, out)
			}
		}
	}
	// Nothing but the inputs and the one good output in the folder: no temp files.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 7 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("folder holds %v", names)
	}
}

func TestCancelledRunWritesNothing(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "shared.onnx")
	saveModel(t, sharedNet(t), in)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(dir, "out.onnx")
	_, err := Run(ctx, nil, Request{Input: in, Output: out, Options: Options{Mode: Dynamic, Format: QDQ, WeightType: Int8}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("cancelled run wrote its output")
	}
}
