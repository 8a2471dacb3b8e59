package export

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"slices"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// OptimizeReport counts what --optimize changed.
type OptimizeReport struct {
	IdentityRemoved     int `json:"identity_removed"`
	ConstantsFolded     int `json:"constants_folded"`
	ConvBatchNormFused  int `json:"conv_batchnorm_fused"`
	ConvAddMulFused     int `json:"conv_add_mul_fused"`
	GemmFused           int `json:"gemm_fused"`
	DeadNodesRemoved    int `json:"dead_nodes_removed"`
	InitializersRemoved int `json:"initializers_removed"`
	InitializersDeduped int `json:"initializers_deduplicated"`
}

// optimize runs the graph passes in order on the top-level graph. Constant
// folding needs rt; with a nil runtime it is skipped.
func optimize(ctx context.Context, rt *runtime.Runtime, m *onnx.Model, st *onnx.TensorStream) (OptimizeReport, error) {
	var rep OptimizeReport
	g := m.Graph()
	rep.IdentityRemoved = removeIdentities(g)
	if rt != nil {
		n, err := foldConstants(ctx, rt, m, g)
		if err != nil {
			return rep, fmt.Errorf("constant folding: %w", err)
		}
		rep.ConstantsFolded = n
		g = m.Graph()
	}
	var err error
	if rep.ConvBatchNormFused, err = fuseConvBatchNorm(m, g); err != nil {
		return rep, err
	}
	if rep.ConvAddMulFused, err = fuseConvAddMul(m, g); err != nil {
		return rep, err
	}
	if rep.GemmFused, err = fuseGemm(m, g); err != nil {
		return rep, err
	}
	rep.DeadNodesRemoved = g.RemoveDeadNodes()
	rep.InitializersDeduped, err = dedupInitializers(st, g)
	if err != nil {
		return rep, err
	}
	rep.InitializersRemoved = g.RemoveUnusedInitializers()
	return rep, ctx.Err()
}

func isDefaultDomain(n *onnxpb.NodeProto) bool {
	return n.GetDomain() == "" || n.GetDomain() == "ai.onnx"
}

// removeIdentities bypasses Identity and inference-mode Dropout nodes
// whose output is not a graph output.
func removeIdentities(g *onnx.Graph) int {
	count := 0
	for _, n := range slices.Clone(g.Proto.Node) {
		if !isDefaultDomain(n) || len(n.Input) == 0 || len(n.Output) == 0 {
			continue
		}
		switch n.GetOpType() {
		case "Identity":
		case "Dropout":
			if len(n.Input) > 2 && n.Input[2] != "" { // training_mode may be true
				continue
			}
			if len(n.Output) > 1 && n.Output[1] != "" && len(g.Consumers(n.Output[1])) > 0 {
				continue
			}
		default:
			continue
		}
		out := n.Output[0]
		if g.IsGraphOutput(out) {
			continue
		}
		g.ReplaceAllUses(out, n.Input[0])
		if err := g.RemoveNode(n); err == nil {
			count++
		}
	}
	return count
}

// soleConsumer returns the one node reading name, or nil when there are
// several readers or the value is a graph output.
func soleConsumer(g *onnx.Graph, name string) *onnxpb.NodeProto {
	cs := g.Consumers(name)
	if len(cs) != 1 || g.IsGraphOutput(name) {
		return nil
	}
	return cs[0]
}

// floatInit returns the float32 values of a float initializer.
func floatInit(m *onnx.Model, g *onnx.Graph, name string) (*onnxpb.TensorProto, []float32) {
	t := g.Initializer(name)
	if t == nil || onnx.TypeOf(t) != onnx.Float {
		return nil, nil
	}
	v, err := onnx.Float32s(m, t)
	if err != nil {
		return nil, nil
	}
	return t, v
}

// convParams returns Conv's weight values, output-channel count and bias
// (zeros when absent), or ok=false when the weights are not constant.
func convParams(m *onnx.Model, g *onnx.Graph, conv *onnxpb.NodeProto) (w []float32, wt *onnxpb.TensorProto, bias []float32, ok bool) {
	if len(conv.Input) < 2 {
		return nil, nil, nil, false
	}
	wt, w = floatInit(m, g, conv.Input[1])
	if wt == nil || len(wt.Dims) < 3 || len(g.Consumers(conv.Input[1])) != 1 {
		return nil, nil, nil, false
	}
	c := int(wt.Dims[0])
	bias = make([]float32, c)
	if len(conv.Input) > 2 && conv.Input[2] != "" {
		bt, bv := floatInit(m, g, conv.Input[2])
		if bt == nil || len(bv) != c || len(g.Consumers(conv.Input[2])) != 1 {
			return nil, nil, nil, false
		}
		copy(bias, bv)
	}
	return w, wt, bias, true
}

// setConv writes new weights and bias into conv (adding a bias input when
// it had none) and renames its output to out.
func setConv(g *onnx.Graph, conv *onnxpb.NodeProto, wt *onnxpb.TensorProto, w, bias []float32, out string) error {
	if err := onnx.SetValues(wt, wt.Dims, w); err != nil {
		return err
	}
	bdims := []int64{int64(len(bias))}
	if len(conv.Input) > 2 && conv.Input[2] != "" {
		if err := onnx.SetValues(g.Initializer(conv.Input[2]), bdims, bias); err != nil {
			return err
		}
	} else {
		bt := &onnxpb.TensorProto{Name: ptr(g.UniqueName(conv.GetName() + "_bias"))}
		if err := onnx.SetValues(bt, bdims, bias); err != nil {
			return err
		}
		if err := g.AddInitializer(bt); err != nil {
			return err
		}
		conv.Input = append(conv.Input[:2], bt.GetName())
	}
	conv.Output[0] = out
	g.Reindex()
	return nil
}

// fuseConvBatchNorm folds an inference BatchNormalization into the Conv
// that feeds it: W' = W*s/sqrt(var+eps), B' = (B-mean)*s/sqrt(var+eps)+beta.
func fuseConvBatchNorm(m *onnx.Model, g *onnx.Graph) (int, error) {
	count := 0
	for _, conv := range slices.Clone(g.Proto.Node) {
		if conv.GetOpType() != "Conv" || !isDefaultDomain(conv) || len(conv.Output) != 1 {
			continue
		}
		bn := soleConsumer(g, conv.Output[0])
		if bn == nil || bn.GetOpType() != "BatchNormalization" || len(bn.Input) != 5 || len(bn.Output) != 1 || bn.Input[0] != conv.Output[0] ||
			onnx.AttrInt(bn, "spatial", 1) == 0 || onnx.AttrInt(bn, "training_mode", 0) != 0 {
			continue // spatial=0 (opset < 9) normalises per activation, not per channel
		}
		w, wt, bias, ok := convParams(m, g, conv)
		if !ok {
			continue
		}
		c := len(bias)
		var p [4][]float32
		good := true
		for i := range p {
			_, p[i] = floatInit(m, g, bn.Input[i+1])
			good = good && len(p[i]) == c
		}
		if !good {
			continue
		}
		eps := float64(onnx.AttrFloat(bn, "epsilon", 1e-5))
		per := len(w) / c
		for o := 0; o < c; o++ {
			f := float64(p[0][o]) / math.Sqrt(float64(p[3][o])+eps)
			for k := o * per; k < (o+1)*per; k++ {
				w[k] = float32(float64(w[k]) * f)
			}
			bias[o] = float32((float64(bias[o])-float64(p[2][o]))*f + float64(p[1][o]))
		}
		out := bn.Output[0]
		if err := g.RemoveNode(bn); err != nil {
			return count, err
		}
		if err := setConv(g, conv, wt, w, bias, out); err != nil {
			return count, err
		}
		count++
	}
	return count, nil
}

// channelConst returns the per-output-channel values of a constant that
// broadcasts over a Conv output (scalar, [C], [C,1,..] or [1,C,1,..]).
func channelConst(m *onnx.Model, g *onnx.Graph, name string, c, rank int) ([]float32, bool) {
	t, v := floatInit(m, g, name)
	if t == nil {
		return nil, false
	}
	if len(v) == 1 {
		out := make([]float32, c)
		for i := range out {
			out[i] = v[0]
		}
		return out, true
	}
	if len(v) != c || len(t.Dims) > rank {
		return nil, false
	}
	// The channel axis is rank-3 from the right of a [N,C,spatial...] output.
	dims := t.Dims
	chAxis := len(dims) - (rank - 1)
	if chAxis < 0 || dims[chAxis] != int64(c) {
		return nil, false
	}
	return v, true
}

// fuseConvAddMul folds a following Add (into the bias) or Mul (into the
// weights and bias) by a per-channel constant.
func fuseConvAddMul(m *onnx.Model, g *onnx.Graph) (int, error) {
	count := 0
	for changed := true; changed; {
		changed = false
		for _, conv := range slices.Clone(g.Proto.Node) {
			if conv.GetOpType() != "Conv" || !isDefaultDomain(conv) || len(conv.Output) != 1 {
				continue
			}
			next := soleConsumer(g, conv.Output[0])
			if next == nil || (next.GetOpType() != "Add" && next.GetOpType() != "Mul") || !isDefaultDomain(next) || len(next.Input) != 2 {
				continue
			}
			other := next.Input[1]
			if other == conv.Output[0] {
				other = next.Input[0]
			}
			if other == conv.Output[0] {
				continue
			}
			w, wt, bias, ok := convParams(m, g, conv)
			if !ok {
				continue
			}
			c := len(bias)
			k, ok := channelConst(m, g, other, c, len(wt.Dims))
			if !ok {
				continue
			}
			per := len(w) / c
			for o := 0; o < c; o++ {
				if next.GetOpType() == "Add" {
					bias[o] += k[o]
					continue
				}
				for i := o * per; i < (o+1)*per; i++ {
					w[i] *= k[o]
				}
				bias[o] *= k[o]
			}
			out := next.Output[0]
			if err := g.RemoveNode(next); err != nil {
				return count, err
			}
			if err := setConv(g, conv, wt, w, bias, out); err != nil {
				return count, err
			}
			count++
			changed = true
		}
	}
	return count, nil
}

// isRank2 reports whether name is known to be a matrix.
func isRank2(g *onnx.Graph, name string) bool {
	if p := g.Producer(name); p != nil {
		switch p.GetOpType() {
		case "Flatten", "Gemm":
			return true
		}
	}
	if vi := g.ValueInfo(name); vi != nil {
		if s := vi.GetType().GetTensorType().GetShape(); s != nil {
			return len(s.Dim) == 2
		}
	}
	return false
}

// fuseGemm turns MatMul(A, B) + C into Gemm(A, B, C) when A is a matrix, B
// a constant matrix and C a constant vector or row.
func fuseGemm(m *onnx.Model, g *onnx.Graph) (int, error) {
	count := 0
	for _, mm := range slices.Clone(g.Proto.Node) {
		if mm.GetOpType() != "MatMul" || !isDefaultDomain(mm) || len(mm.Input) != 2 {
			continue
		}
		bt := g.Initializer(mm.Input[1])
		if bt == nil || len(bt.Dims) != 2 || !isRank2(g, mm.Input[0]) {
			continue
		}
		if dt := onnx.TypeOf(bt); dt != onnx.Float && dt != onnx.Double && dt != onnx.Float16 {
			continue // ONNX Runtime's Gemm is float-only
		}
		add := soleConsumer(g, mm.Output[0])
		if add == nil || add.GetOpType() != "Add" || !isDefaultDomain(add) || len(add.Input) != 2 {
			continue
		}
		other := add.Input[1]
		if other == mm.Output[0] {
			other = add.Input[0]
		}
		ct := g.Initializer(other)
		if ct == nil || onnx.TypeOf(ct) != onnx.TypeOf(bt) {
			continue
		}
		n := bt.Dims[1]
		okShape := (len(ct.Dims) == 1 && ct.Dims[0] == n) || (len(ct.Dims) == 2 && ct.Dims[0] == 1 && ct.Dims[1] == n)
		if !okShape {
			continue
		}
		gemm := &onnxpb.NodeProto{
			Name:   ptr(g.UniqueName(mm.GetName() + "_gemm")),
			OpType: ptr("Gemm"),
			Input:  []string{mm.Input[0], mm.Input[1], other},
			Output: []string{add.Output[0]},
		}
		if err := g.RemoveNode(add); err != nil {
			return count, err
		}
		if err := g.ReplaceNode(mm, gemm); err != nil {
			return count, err
		}
		count++
	}
	return count, nil
}

// dedupInitializers points every use of an initializer whose type, shape
// and bytes equal an earlier one at the earlier one.
func dedupInitializers(st *onnx.TensorStream, g *onnx.Graph) (int, error) {
	type key struct {
		dt   onnx.DataType
		dims string
		sum  [32]byte
	}
	seen := map[key]string{}
	count := 0
	for _, t := range slices.Clone(g.Proto.Initializer) {
		if g.IsInput(t.GetName()) || g.IsGraphOutput(t.GetName()) {
			continue
		}
		raw, err := st.Bytes(t)
		if err != nil {
			continue // strings and odd layouts are left alone
		}
		k := key{onnx.TypeOf(t), fmt.Sprint(t.Dims), sha256.Sum256(raw)}
		if first, ok := seen[k]; ok {
			g.ReplaceAllUses(t.GetName(), first)
			count++
			continue
		}
		seen[k] = t.GetName()
	}
	return count, nil
}
