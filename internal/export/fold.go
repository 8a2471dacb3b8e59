package export

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// neverFold are ops whose result must not be frozen: random ones, and
// DequantizeLinear, whose folding would undo weight quantization.
func neverFold(op string) bool {
	switch op {
	case "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
		"Multinomial", "Bernoulli", "DequantizeLinear", "QuantizeLinear":
		return true
	}
	return false
}

// maxFoldedBytes bounds one folded tensor, so that folding never turns a
// small ConstantOfShape into a huge initializer.
const maxFoldedBytes = 64 << 20

// foldConstants evaluates, through ONNX Runtime, every top-level node whose
// inputs are all constant, and replaces the values other nodes read with
// initializers. It returns the number of nodes folded.
func foldConstants(ctx context.Context, rt *runtime.Runtime, m *onnx.Model, g *onnx.Graph) (int, error) {
	constant := map[string]bool{"": true}
	for _, t := range g.Proto.Initializer {
		if !g.IsInput(t.GetName()) {
			constant[t.GetName()] = true
		}
	}
	var folded []*onnxpb.NodeProto
	inFold := map[*onnxpb.NodeProto]bool{}
	order, err := g.Topo()
	if err != nil {
		return 0, err
	}
	for _, n := range order {
		if !isDefaultDomain(n) || neverFold(n.GetOpType()) || len(g.Subgraphs(n)) > 0 || nonTensorOp(n) {
			continue
		}
		ok := true
		for _, in := range n.Input {
			ok = ok && constant[in]
		}
		for _, out := range n.Output {
			ok = ok && !g.IsGraphOutput(out)
		}
		if !ok {
			continue
		}
		folded = append(folded, n)
		inFold[n] = true
		for _, out := range n.Output {
			constant[out] = true
		}
	}
	if len(folded) == 0 {
		return 0, nil
	}
	// The values that leave the folded set are the ones to materialise.
	var wanted []string
	for _, n := range folded {
		for _, out := range n.Output {
			if out == "" {
				continue
			}
			for _, c := range g.Consumers(out) {
				if !inFold[c] {
					wanted = append(wanted, out)
					break
				}
			}
		}
	}
	if len(wanted) == 0 {
		return 0, nil
	}
	sub := &onnxpb.ModelProto{
		IrVersion:   m.Proto.IrVersion,
		OpsetImport: m.Proto.OpsetImport,
		Graph:       &onnxpb.GraphProto{Name: ptr("fold")},
	}
	need := map[string]bool{}
	for _, n := range folded {
		sub.Graph.Node = append(sub.Graph.Node, n)
		for _, in := range n.Input {
			need[in] = true
		}
	}
	for _, t := range g.Proto.Initializer {
		if need[t.GetName()] {
			sub.Graph.Initializer = append(sub.Graph.Initializer, t)
		}
	}
	if v, _ := onnx.OpsetVersion(m.Proto, ""); v < 5 {
		return 0, nil // Reshape with a shape input, which probing needs, came with opset 5
	}
	flat, shape, err := probeOutputs(sub.Graph, wanted)
	if err != nil {
		return 0, err
	}
	// onnxruntime_go cannot run a model without inputs: give it an unused one.
	dummy := "mlops_fold_unused_input"
	sub.Graph.Input = []*onnxpb.ValueInfoProto{{Name: ptr(dummy), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(onnx.Float)), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 1}}}}}}}}}
	tmp := &onnx.Model{Proto: sub, Dir: m.Dir}
	tmp = tmp.Clone()
	defer tmp.Close()
	if err := tmp.InlineExternalData(); err != nil {
		return 0, err
	}
	b, err := proto.Marshal(tmp.Proto)
	if err != nil {
		return 0, err
	}
	res, err := runModel(ctx, rt, b, map[string]*runtime.Tensor{dummy: runtime.NewTensorFloat32([]int64{1}, []float32{0})})
	if err != nil {
		return 0, err
	}
	for _, w := range wanted {
		r := res[flat[w]]
		if r == nil || res[shape[w]] == nil || r.DataType == onnx.String || int64(len(r.Data)) > maxFoldedBytes {
			return 0, nil // leave the graph as it was
		}
	}
	for _, w := range wanted {
		r := res[flat[w]]
		dims, err := res[shape[w]].Int64s()
		if err != nil {
			return 0, fmt.Errorf("folded value %s: %w", w, err)
		}
		r.Shape = dims
		t := &onnxpb.TensorProto{Name: ptr(w)}
		if err := onnx.SetRaw(t, r.DataType, r.Shape, r.Data); err != nil {
			return 0, fmt.Errorf("folded value %s: %w", w, err)
		}
		g.Proto.Initializer = append(g.Proto.Initializer, t)
		if m.Proto.GetIrVersion() < 4 { // IR 3 lists every initializer as an input
			g.Proto.Input = append(g.Proto.Input, tensorValueInfo(w, r.DataType, r.Shape))
		}
	}
	keep := g.Proto.Node[:0]
	for _, n := range g.Proto.Node {
		if !inFold[n] {
			keep = append(keep, n)
		}
	}
	g.Proto.Node = keep
	g.Reindex()
	return len(folded), nil
}

func tensorValueInfo(name string, dt onnx.DataType, shape []int64) *onnxpb.ValueInfoProto {
	sp := &onnxpb.TensorShapeProto{}
	for _, d := range shape {
		sp.Dim = append(sp.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: ptr(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: ptr(int32(dt)), Shape: sp}}}}
}
