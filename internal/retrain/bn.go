package retrain

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import
	"github.com/gomlx/gomlx/ml/model"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// bnTraining puts BatchNormalization in training mode for --update-bn-stats.
// onnx-gomlx only converts the inference form, so the training copy of the
// graph is rewritten: each BatchNormalization normalises with its batch's
// mean and (biased) variance, computed by ReduceMean nodes inserted before
// it, and the step updates the running statistics as torch does,
// running = momentum·running + (1−momentum)·batch, with ONNX's momentum
// (torch's 1 − momentum) and the unbiased batch variance. The evaluation
// graph keeps the original nodes and so uses the running statistics.
type bnTraining struct {
	stats []bnStat
	names [][3]string // per node: input, batch mean [C], batch variance [C]
}

// rewriteBatchNorm returns a copy of m whose BatchNormalization nodes use
// batch statistics, and the bookkeeping to update the running ones.
func rewriteBatchNorm(m *onnx.Model, stats []bnStat) (*onnx.Model, *bnTraining, error) {
	c := m.Clone()
	g := c.Graph()
	opset, _ := onnx.OpsetVersion(c.Proto, "")
	bt := &bnTraining{stats: stats}
	byLabel := map[string]*onnxpb.NodeProto{}
	for _, n := range g.Proto.GetNode() {
		byLabel[onnx.NodeLabel(n)] = n
	}
	for _, st := range stats {
		n := byLabel[st.node]
		x := n.GetInput()[0]
		vi := g.ValueInfo(x)
		rank := 4
		if vi != nil && vi.GetType().GetTensorType().GetShape() != nil {
			rank = len(vi.GetType().GetTensorType().GetShape().GetDim())
		}
		if rank < 2 {
			return nil, nil, fmt.Errorf("%s: input of rank %d has no channel axis", describeNode(n), rank)
		}
		axes := []int64{0}
		for a := 2; a < rank; a++ {
			axes = append(axes, int64(a))
		}
		mean := g.UniqueName(x + "_bn_batch_mean")
		meanK := g.UniqueName(x + "_bn_batch_mean_k")
		diff := g.UniqueName(x + "_bn_centered")
		sq := g.UniqueName(x + "_bn_sq")
		vr := g.UniqueName(x + "_bn_batch_var")
		nodes := []*onnxpb.NodeProto{
			reduceMean(g, opset, x, meanK, axes, 1),
			reduceMean(g, opset, x, mean, axes, 0),
			{OpType: proto.String("Sub"), Input: []string{x, meanK}, Output: []string{diff}, Name: proto.String(diff)},
			{OpType: proto.String("Mul"), Input: []string{diff, diff}, Output: []string{sq}, Name: proto.String(sq)},
			reduceMean(g, opset, sq, vr, axes, 0),
		}
		for _, nn := range nodes {
			if err := g.InsertBefore(n, nn); err != nil {
				return nil, nil, err
			}
		}
		n.Input[3], n.Input[4] = mean, vr
		bt.names = append(bt.names, [3]string{x, mean, vr})
	}
	g.Reindex()
	return c, bt, nil
}

// reduceMean builds a ReduceMean in the form the opset wants (axes as an
// attribute before opset 18, as an input from 18 on).
func reduceMean(g *onnx.Graph, opset int64, in, out string, axes []int64, keep int64) *onnxpb.NodeProto {
	n := &onnxpb.NodeProto{OpType: proto.String("ReduceMean"), Name: proto.String(out), Output: []string{out},
		Attribute: []*onnxpb.AttributeProto{{Name: proto.String("keepdims"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(keep)}}}
	if opset >= 18 {
		name := g.UniqueName(out + "_axes")
		t := &onnxpb.TensorProto{Name: proto.String(name)}
		_ = onnx.SetValues(t, []int64{int64(len(axes))}, axes)
		_ = g.AddInitializer(t)
		n.Input = []string{in, name}
	} else {
		n.Input = []string{in}
		n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: proto.String("axes"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: axes})
	}
	return n
}

// bind checks the running-statistics variables are in the store.
func (b *bnTraining) bind(store *model.Store) error {
	for _, st := range b.stats {
		if store.GetVariable(varPath(st.mean)) == nil || store.GetVariable(varPath(st.vr)) == nil {
			return fmt.Errorf("BatchNormalization %s: running statistics missing from the training graph", st.node)
		}
	}
	return nil
}

// outputs are the tensors the training forward pass must also return.
func (b *bnTraining) outputs() []string {
	var out []string
	for _, n := range b.names {
		out = append(out, n[0], n[1], n[2])
	}
	return out
}

// update sets the new running statistics from the batch ones (no gradient).
func (b *bnTraining) update(store *model.Store, g *Graph, outs []*Node) {
	for i, st := range b.stats {
		x, mean, vr := outs[3*i], StopGradient(outs[3*i+1]), StopGradient(outs[3*i+2])
		n := x.Shape().Size() / max(1, x.Shape().Dimensions[1])
		if n > 1 {
			vr = MulScalar(vr, float64(n)/float64(n-1))
		}
		mom := float64(st.momentum)
		mv, vv := store.GetVariable(varPath(st.mean)), store.GetVariable(varPath(st.vr))
		mv.SetNodeValue(Add(MulScalar(mv.NodeValue(g), mom), MulScalar(ConvertDType(mean, mv.DType()), 1-mom)))
		vv.SetNodeValue(Add(MulScalar(vv.NodeValue(g), mom), MulScalar(ConvertDType(vr, vv.DType()), 1-mom)))
	}
}
