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
var neverFold = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true, "RandomUniformLike": true,
	"Multinomial": true, "Bernoulli": true, "DequantizeLinear": true, "QuantizeLinear": true,
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
		if !isDefaultDomain(n) || neverFold[n.GetOpType()] || len(g.Subgraphs(n)) > 0 {
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
	for _, w := range wanted {
		sub.Graph.Output = append(sub.Graph.Output, &onnxpb.ValueInfoProto{Name: ptr(w)})
	}
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
	res, err := runModel(ctx, rt, b, nil)
	if err != nil {
		return 0, err
	}
	for _, w := range wanted {
		r := res[w]
		if r == nil || r.DataType == onnx.String || int64(len(r.Data)) > maxFoldedBytes {
			return 0, nil // leave the graph as it was
		}
	}
	for _, w := range wanted {
		r := res[w]
		t := &onnxpb.TensorProto{Name: ptr(w)}
		if err := onnx.SetRaw(t, r.DataType, r.Shape, r.Data); err != nil {
			return 0, fmt.Errorf("folded value %s: %w", w, err)
		}
		g.Proto.Initializer = append(g.Proto.Initializer, t)
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
