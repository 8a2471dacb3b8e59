package retrain

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Trainable selections besides a regular expression.
const (
	TrainAll  = "all"
	TrainHead = "head"
)

// constInputs lists, per op type, the input positions ONNX treats as shapes,
// axes or attribute-like constants: a float initializer there is never a
// weight. BatchNormalization's running statistics (3, 4) are handled apart.
var constInputs = map[string][]int{
	"Resize": {1, 2, 3}, "Upsample": {1}, "Clip": {1, 2}, "Pad": {1, 2, 3}, "Dropout": {1, 2},
	"Range": {0, 1, 2}, "ConstantOfShape": {0}, "Reshape": {1}, "Expand": {1}, "Tile": {1},
	"Slice": {1, 2, 3, 4}, "Squeeze": {1}, "Unsqueeze": {1}, "Pow": {1}, "Where": {0},
	"Split": {1}, "TopK": {1}, "OneHot": {1, 2}, "CumSum": {1}, "ReduceMean": {1},
	"ReduceSum": {1}, "ReduceMax": {1}, "ReduceMin": {1}, "ReduceProd": {1}, "ReduceL2": {1},
}

// isConstPosition reports whether input i of n is shape- or attribute-like.
func isConstPosition(n *onnxpb.NodeProto, i int) bool {
	if n.GetOpType() == "BatchNormalization" && (i == 3 || i == 4) {
		return true
	}
	for _, p := range constInputs[n.GetOpType()] {
		if p == i {
			return true
		}
	}
	return false
}

// trainableFloat reports whether an initializer type can train here.
// Half-precision weights stay frozen: Adam's moments underflow in fp16.
func trainableFloat(dt onnx.DataType) bool { return dt == onnx.Float || dt == onnx.Double }

// selection is the outcome of choosing the trainable initializers.
type selection struct {
	names   []string // trainable initializers, in initializer order
	frozen  int      // float initializers left frozen
	bnStats []bnStat // BatchNormalization nodes whose running statistics exist
}

// bnStat names one BatchNormalization's running statistics.
type bnStat struct {
	node     string
	input    string // the normalized tensor
	mean, vr string // initializer names
	momentum float32
	epsilon  float32
}

// selectTrainable picks the float initializers to train. spec is "all" or a
// regular expression over initializer names; "head" is resolved elsewhere.
func selectTrainable(m *onnx.Model, spec string) (*selection, error) {
	g := m.Graph()
	constUse := map[string]bool{}
	for _, n := range g.Proto.GetNode() {
		for i, in := range n.GetInput() {
			if isConstPosition(n, i) {
				constUse[in] = true
			}
		}
	}
	var re *regexp.Regexp
	if spec != TrainAll {
		var err error
		if re, err = regexp.Compile(spec); err != nil {
			return nil, fmt.Errorf("--trainable %q is neither all, head nor a valid regular expression: %v", spec, err)
		}
	}
	sel := &selection{}
	var floats int
	for _, t := range g.Proto.GetInitializer() {
		if !trainableFloat(onnx.TypeOf(t)) {
			continue
		}
		floats++
		name := t.GetName()
		n, _ := onnx.NumElements(t)
		switch {
		case constUse[name], len(g.Consumers(name)) == 0:
			continue
		case re != nil && !re.MatchString(name):
			continue
		case re == nil && n <= 1:
			// Single values are epsilons, scales and exponents, not weights,
			// unless a pattern names them.
			continue
		}
		sel.names = append(sel.names, name)
	}
	sel.frozen = floats - len(sel.names)
	if len(sel.names) == 0 {
		if re != nil {
			return nil, fmt.Errorf("--trainable %q matches no trainable float initializer (%d float initializers; BatchNormalization statistics and shape constants never train)", spec, floats)
		}
		return nil, fmt.Errorf("the model has no trainable float weights (float32/float64 initializers): nothing to train; fp16 models must be converted to float32 first (mlops convert)")
	}
	sel.bnStats = batchNorms(m, g)
	return sel, nil
}

// batchNorms lists the BatchNormalization nodes whose statistics are
// initializers (the usual export of a torch BatchNorm in eval mode).
func batchNorms(m *onnx.Model, g *onnx.Graph) []bnStat {
	var out []bnStat
	for _, n := range g.Proto.GetNode() {
		if n.GetOpType() != "BatchNormalization" || len(n.GetInput()) < 5 {
			continue
		}
		if g.Initializer(n.GetInput()[3]) == nil || g.Initializer(n.GetInput()[4]) == nil {
			continue
		}
		out = append(out, bnStat{node: onnx.NodeLabel(n), input: n.GetInput()[0], mean: n.GetInput()[3], vr: n.GetInput()[4],
			momentum: onnx.AttrFloat(n, "momentum", 0.9), epsilon: onnx.AttrFloat(n, "epsilon", 1e-5)})
	}
	return out
}

// modelInputs describes the graph inputs that are not initializers, for the
// data layer.
func modelInputs(m *onnx.Model) ([]data.InputInfo, error) {
	g := m.Graph()
	var out []data.InputInfo
	for _, in := range g.Proto.GetInput() {
		if g.Initializer(in.GetName()) != nil {
			continue
		}
		tt := in.GetType().GetTensorType()
		if tt == nil {
			return nil, fmt.Errorf("model input %q is not a tensor; retrain feeds tensors only", in.GetName())
		}
		dt, ok := infer.DataType(onnx.DataType(tt.GetElemType()))
		if !ok {
			return nil, fmt.Errorf("model input %q has type %s, which data files cannot feed", in.GetName(), onnx.DataType(tt.GetElemType()))
		}
		var shape []int64
		for _, d := range tt.GetShape().GetDim() {
			if v, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && v.DimValue > 0 {
				shape = append(shape, v.DimValue)
			} else {
				shape = append(shape, -1)
			}
		}
		if len(shape) == 0 {
			return nil, fmt.Errorf("model input %q is a scalar; retrain needs a batch dimension", in.GetName())
		}
		out = append(out, data.InputInfo{Name: in.GetName(), DType: dt, Shape: shape})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the model has no inputs to feed")
	}
	return out, nil
}

// lossOutput is the tensor the loss reads: the first graph output, or the
// input of a final Softmax/LogSoftmax (cross-entropy, distillation) or
// Sigmoid (bce), so the loss works on logits and stays numerically stable.
// probs reports whether the graph output itself is a probability.
func lossOutput(m *onnx.Model, loss string) (name, out string, probs bool, err error) {
	g := m.Graph()
	outs := g.Proto.GetOutput()
	if len(outs) == 0 {
		return "", "", false, fmt.Errorf("the model has no outputs")
	}
	out = outs[0].GetName()
	name = out
	p := g.Producer(name)
	for p != nil && p.GetOpType() == "Identity" {
		name = p.GetInput()[0]
		p = g.Producer(name)
	}
	if p == nil {
		return name, out, false, nil
	}
	switch op := p.GetOpType(); {
	case (op == "Softmax" || op == "LogSoftmax") && loss == LossCrossEntropy:
		return p.GetInput()[0], out, op == "Softmax", nil
	case op == "Sigmoid" && loss == LossBCE:
		return p.GetInput()[0], out, true, nil
	}
	return name, out, false, nil
}

// describeNode names a node for messages: its op type and name (or output).
func describeNode(n *onnxpb.NodeProto) string {
	return fmt.Sprintf("%s node %q", n.GetOpType(), strings.TrimSpace(onnx.NodeLabel(n)))
}
