package retrain

import (
	"math"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// differentiable rewrites, in a copy of m that only the training backend
// sees, the ops whose gradients gomlx lacks into equivalent ones that have
// them. The model written back is never rewritten.
//
//   - Pad with all-zero pads (torch exports one before every AveragePool
//     with count_include_pad) becomes Identity.
//   - Pad in constant mode with value 0 whose only consumer is a Conv or an
//     AveragePool that counts padding is folded into that node's pads.
//   - Clip with constant bounds becomes Max(Min(x, max), min).
//   - Conv with both strides and dilations (gomlx's graph builder takes one
//     or the other) becomes a stride-1 dilated Conv and a Slice that keeps
//     every stride-th output position: the same values and gradients, at
//     stride² times that node's multiply-adds.
//   - Identity nodes (gomlx's Identity has no gradient) are bypassed: their
//     consumers read the Identity's input. Those producing graph outputs
//     stay; the loss reads past them (see lossOutput).
func differentiable(m *onnx.Model) *onnx.Model {
	c := m.Clone()
	g := c.Graph()
	changed := false
	for _, n := range append([]*onnxpb.NodeProto(nil), g.Proto.GetNode()...) {
		switch n.GetOpType() {
		case "Identity":
			changed = bypassIdentity(g, n) || changed
		case "Pad":
			changed = rewritePad(c, g, n) || changed
		case "Clip":
			changed = rewriteClip(g, n) || changed
		case "Conv":
			changed = rewriteStridedDilatedConv(g, n) || changed
		}
	}
	if !changed {
		c.Close()
		return m
	}
	g.Reindex()
	return c
}

// constInts reads an int64 tensor given as an initializer or a Constant node.
func constInts(m *onnx.Model, g *onnx.Graph, name string) ([]int64, bool) {
	if t := g.Initializer(name); t != nil {
		v, err := onnx.AsInt64s(m, t)
		return v, err == nil
	}
	if p := g.Producer(name); p != nil && p.GetOpType() == "Constant" {
		if a := onnx.Attr(p, "value"); a != nil && a.GetT() != nil {
			v, err := onnx.AsInt64s(m, a.GetT())
			return v, err == nil
		}
	}
	return nil, false
}

func bypassIdentity(g *onnx.Graph, n *onnxpb.NodeProto) bool {
	out := n.GetOutput()[0]
	if len(n.GetInput()) != 1 || g.IsGraphOutput(out) {
		return false
	}
	g.ReplaceAllUses(out, n.GetInput()[0])
	return true
}

func rewritePad(m *onnx.Model, g *onnx.Graph, n *onnxpb.NodeProto) bool {
	in := n.GetInput()
	if onnx.AttrString(n, "mode", "constant") != "constant" || len(in) < 2 || (len(in) > 2 && in[2] != "") {
		return false // reflect/edge modes and non-zero fill values stay
	}
	if len(in) > 3 && in[3] != "" {
		return false // axes subset: leave it
	}
	pads, ok := constInts(m, g, in[1])
	if !ok {
		return false
	}
	zero := true
	for _, p := range pads {
		zero = zero && p == 0
	}
	if zero {
		n.OpType, n.Input, n.Attribute = proto.String("Identity"), in[:1], nil
		bypassIdentity(g, n)
		return true
	}
	cons := g.Consumers(n.GetOutput()[0])
	if len(cons) != 1 || g.IsGraphOutput(n.GetOutput()[0]) {
		return false
	}
	next := cons[0]
	op := next.GetOpType()
	countsPad := op == "AveragePool" && onnx.AttrInt(next, "count_include_pad", 0) == 1
	if op != "Conv" && !countsPad {
		return false
	}
	rank := len(pads) / 2
	if rank < 3 || pads[0] != 0 || pads[1] != 0 || pads[rank] != 0 || pads[rank+1] != 0 || onnx.AttrString(next, "auto_pad", "NOTSET") != "NOTSET" {
		return false // only spatial padding folds
	}
	spatial := rank - 2
	merged := make([]int64, 2*spatial)
	if old := onnx.AttrInts(next, "pads"); len(old) == 2*spatial {
		copy(merged, old)
	}
	for i := 0; i < spatial; i++ {
		merged[i] += pads[2+i]
		merged[spatial+i] += pads[rank+2+i]
	}
	setInts(next, "pads", merged)
	next.Input[0] = in[0]
	n.OpType, n.Input, n.Attribute = proto.String("Identity"), in[:1], nil
	bypassIdentity(g, n)
	return true
}

func setInts(n *onnxpb.NodeProto, name string, v []int64) {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			a.Ints = v
			return
		}
	}
	n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v})
}

func rewriteClip(g *onnx.Graph, n *onnxpb.NodeProto) bool {
	in := n.GetInput()
	if len(in) < 2 || len(onnx.Attr(n, "min").GetName()) > 0 || len(onnx.Attr(n, "max").GetName()) > 0 {
		return false // opset < 11 attribute form: bounds are attributes, convert leaves it
	}
	x, out := in[0], n.GetOutput()[0]
	cur := x
	var nodes []*onnxpb.NodeProto
	if len(in) > 2 && in[2] != "" {
		mid := g.UniqueName(out + "_clip_max")
		nodes = append(nodes, &onnxpb.NodeProto{OpType: proto.String("Min"), Name: proto.String(mid), Input: []string{cur, in[2]}, Output: []string{mid}})
		cur = mid
	}
	if in[1] != "" {
		n.OpType, n.Input, n.Attribute = proto.String("Max"), []string{cur, in[1]}, nil
	} else {
		n.OpType, n.Input, n.Attribute = proto.String("Identity"), []string{cur}, nil
	}
	for _, nn := range nodes {
		if err := g.InsertBefore(n, nn); err != nil {
			return false
		}
	}
	return true
}

func rewriteStridedDilatedConv(g *onnx.Graph, n *onnxpb.NodeProto) bool {
	strides, dil := onnx.AttrInts(n, "strides"), onnx.AttrInts(n, "dilations")
	if !anyAbove(strides, 1) || !anyAbove(dil, 1) {
		return false
	}
	if ap := onnx.AttrString(n, "auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return false // SAME_* pads depend on the stride; gomlx then reports the conv
	}
	out := n.GetOutput()[0]
	conv := proto.Clone(n).(*onnxpb.NodeProto)
	dense := g.UniqueName(out + "_stride1")
	conv.Output[0] = dense
	setInts(conv, "strides", ones(len(strides)))
	axes := make([]int64, len(strides))
	starts := make([]int64, len(strides))
	ends := make([]int64, len(strides))
	for i := range strides {
		axes[i] = int64(i + 2)
		ends[i] = math.MaxInt64
	}
	nodes := []*onnxpb.NodeProto{conv}
	inputs := []string{dense}
	for i, v := range [][]int64{starts, ends, axes, strides} {
		name := g.UniqueName(out + []string{"_starts", "_ends", "_axes", "_steps"}[i])
		t := &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnx.Int64)), Dims: []int64{int64(len(v))}, Int64Data: v}
		nodes = append(nodes, &onnxpb.NodeProto{OpType: proto.String("Constant"), Name: proto.String(name), Output: []string{name},
			Attribute: []*onnxpb.AttributeProto{{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}}})
		inputs = append(inputs, name)
	}
	nodes = append(nodes, &onnxpb.NodeProto{OpType: proto.String("Slice"), Name: proto.String(g.UniqueName(out + "_subsample")),
		Input: inputs, Output: []string{out}})
	return g.ReplaceNode(n, nodes...) == nil
}

func anyAbove(v []int64, limit int64) bool {
	for _, x := range v {
		if x > limit {
			return true
		}
	}
	return false
}

func ones(n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}
