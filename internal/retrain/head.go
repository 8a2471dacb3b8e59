package retrain

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// headLayer is the model's final Gemm or MatMul(+Add) layer.
type headLayer struct {
	op          string // Gemm or MatMul
	x           string // the features feeding it
	w, b        string // weight and bias initializers (b may be "")
	transB      bool
	alpha, beta float64
}

// findHead walks back from the first output through Identity and a final
// Softmax/LogSoftmax/Sigmoid to a Gemm, or a MatMul with an optional bias
// Add, whose weights are float initializers.
func findHead(m *onnx.Model) (*headLayer, error) {
	g := m.Graph()
	outs := g.Proto.GetOutput()
	if len(outs) == 0 {
		return nil, errors.New("the model has no outputs")
	}
	notFound := func(got string) error {
		return fmt.Errorf("--trainable head needs a model whose output comes from a final Gemm or MatMul(+Add) with weight initializers (optionally followed by Softmax); this one ends in %s", got)
	}
	p := g.Producer(outs[0].GetName())
	for p != nil && (p.GetOpType() == "Identity" || p.GetOpType() == "Softmax" || p.GetOpType() == "LogSoftmax" || p.GetOpType() == "Sigmoid") {
		p = g.Producer(p.GetInput()[0])
	}
	if p == nil {
		return nil, notFound("a graph input")
	}
	isWeight := func(name string) bool {
		t := g.Initializer(name)
		return t != nil && trainableFloat(onnx.TypeOf(t))
	}
	h := &headLayer{op: p.GetOpType(), alpha: 1, beta: 1}
	switch p.GetOpType() {
	case "Gemm":
		in := p.GetInput()
		if len(in) < 2 || !isWeight(in[1]) || onnx.AttrInt(p, "transA", 0) != 0 {
			return nil, notFound(describeNode(p) + " without a weight initializer")
		}
		h.x, h.w = in[0], in[1]
		if len(in) > 2 && in[2] != "" {
			if !isWeight(in[2]) {
				return nil, notFound(describeNode(p) + " with a computed bias")
			}
			h.b = in[2]
		}
		h.transB = onnx.AttrInt(p, "transB", 0) == 1
		h.alpha = float64(onnx.AttrFloat(p, "alpha", 1))
		h.beta = float64(onnx.AttrFloat(p, "beta", 1))
	case "Add":
		in := p.GetInput()
		mm, bias := g.Producer(in[0]), in[1]
		if mm == nil || mm.GetOpType() != "MatMul" {
			mm, bias = g.Producer(in[1]), in[0]
		}
		if mm == nil || mm.GetOpType() != "MatMul" || !isWeight(bias) || !isWeight(mm.GetInput()[1]) {
			return nil, notFound(describeNode(p) + " that is not a MatMul's bias")
		}
		h.op, h.x, h.w, h.b = "MatMul", mm.GetInput()[0], mm.GetInput()[1], bias
	case "MatMul":
		if !isWeight(p.GetInput()[1]) {
			return nil, notFound(describeNode(p) + " without a weight initializer")
		}
		h.x, h.w = p.GetInput()[0], p.GetInput()[1]
	default:
		return nil, notFound(describeNode(p))
	}
	if wt := g.Initializer(h.w); len(wt.GetDims()) != 2 {
		return nil, fmt.Errorf("--trainable head: the final layer's weight %q has shape %v; a [features, classes] matrix is needed", h.w, wt.GetDims())
	}
	if g.IsInput(h.x) {
		return nil, fmt.Errorf("--trainable head: the final layer reads the model input %q directly, so the whole model is the head: use --trainable all", h.x)
	}
	return h, nil
}

// prepareHead computes the head's input features with ONNX Runtime and
// builds an engine that trains only that layer.
func (r *run) prepareHead(ctx context.Context) error {
	if r.rt == nil {
		return errors.New("--trainable head computes features with ONNX Runtime, which is not available")
	}
	h, err := findHead(r.src)
	if err != nil {
		return err
	}
	if err := r.headFeatures(ctx, h); err != nil {
		return err
	}
	store := model.NewStore()
	names := []string{h.w}
	if h.b != "" {
		names = append(names, h.b)
	}
	g := r.src.Graph()
	for _, n := range names {
		t := g.Initializer(n)
		w, err := modelWeights(r.src, []string{n})
		if err != nil {
			return err
		}
		dims := intDims(t.GetDims())
		var tt *tensors.Tensor
		switch x := w[n].(type) {
		case []float32:
			tt = tensors.FromFlatDataAndDimensions(x, dims...)
		case []float64:
			tt = tensors.FromFlatDataAndDimensions(x, dims...)
		}
		store.VariableWithValue(varPath(n), tt)
	}
	floats := 0
	for _, t := range g.Proto.GetInitializer() {
		if trainableFloat(onnx.TypeOf(t)) {
			floats++
		}
	}
	r.mode, r.report.Mode = ModeHead, ModeHead
	r.report.Frozen = floats - len(names)
	r.write = names
	r.eng, err = newEngine(r.be, store, 1, h.forward(), names, &r.req.Hyper, r.loss, r.loss.labels, r.loss.distill && r.loss.alpha > 0)
	return err
}

// forward is the head layer in gomlx: Gemm's alpha·X·op(W) + beta·C, or
// MatMul plus bias.
func (h *headLayer) forward() forwardFn {
	return func(scope *model.Scope, ins []*Node, _ bool) *Node {
		g := ins[0].Graph()
		store := scope.Store()
		x := ins[0]
		w := store.GetVariable(varPath(h.w)).NodeValue(g)
		x = ConvertDType(x, w.DType())
		var y *Node
		if h.transB {
			y = Einsum("bf,kf->bk", x, w)
		} else {
			y = Einsum("bf,fk->bk", x, w)
		}
		if h.alpha != 1 {
			y = MulScalar(y, h.alpha)
		}
		if h.b != "" {
			b := store.GetVariable(varPath(h.b)).NodeValue(g)
			if h.beta != 1 {
				b = MulScalar(b, h.beta)
			}
			y = Add(y, InsertAxes(b, 0))
		}
		return y
	}
}

// headFeatures replaces the training and validation inputs by the head's
// input features, computed once by ONNX Runtime on a copy of the model that
// also outputs them (the body is frozen, so they never change).
func (r *run) headFeatures(ctx context.Context, h *headLayer) error {
	m := r.src.Clone()
	defer m.Close()
	m.Proto.Graph.Output = append(m.Proto.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String(h.x)})
	var modelArg any
	hasExternal := false
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		hasExternal = hasExternal || onnx.IsExternal(t)
	}
	if hasExternal {
		// ONNX Runtime resolves external data next to the file it opens.
		dir, err := os.MkdirTemp("", "mlops-retrain-head-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path := dir + "/features.onnx"
		if err := m.SaveContext(ctx, path, onnx.SaveOptions{External: onnx.ExternalAuto}); err != nil {
			return err
		}
		modelArg = path
	} else {
		raw, err := m.Encode()
		if err != nil {
			return err
		}
		modelArg = raw
	}
	sess, err := r.rt.NewSessionContext(ctx, modelArg, r.req.Session)
	if err != nil {
		return fmt.Errorf("--trainable head: open the feature model in ONNX Runtime: %w", err)
	}
	defer sess.Close()
	for _, ds := range []**dataset{&r.train, &r.val} {
		if *ds == nil {
			continue
		}
		vals, width, err := runORT(ctx, sess, *ds, max(r.req.Hyper.BatchSize, 256), h.x, "head features")
		if err != nil {
			return err
		}
		if in := headInputs(r.src, h); width != in {
			return fmt.Errorf("--trainable head: the final layer's input %q has %d values per row but its weight %q expects %d", h.x, width, h.w, in)
		}
		raw := make([]byte, 4*len(vals))
		for i, v := range vals {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		old := *ds
		*ds = &dataset{teacher: old.teacher, k: old.k, Dataset: &data.Dataset{Rows: old.Rows, Labels: old.Labels, Origin: old.Origin,
			Columns: []data.Column{{Name: h.x, DType: data.Float32, RowShape: []int64{int64(width)}, Data: raw}}}}
	}
	return nil
}

// headInputs is the number of features the head's weight expects.
func headInputs(m *onnx.Model, h *headLayer) int {
	d := m.Graph().Initializer(h.w).GetDims()
	if h.transB {
		return int(d[1])
	}
	return int(d[0])
}
