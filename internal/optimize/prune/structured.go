package prune

import (
	"fmt"
	"math"
	"sort"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// sliceEdit keeps, along one axis of an initializer, the channels in keep.
// Each channel spans block consecutive entries on that axis (block > 1 after
// a Flatten, where a channel becomes H×W features).
type sliceEdit struct {
	init  *onnxpb.TensorProto
	axis  int
	block int
}

// channelPlan is everything that indexes one producer's output channels.
type channelPlan struct {
	producer *onnxpb.NodeProto
	weight   *onnxpb.TensorProto
	outAxis  int // axis of weight holding the output channels
	channels int
	edits    []sliceEdit
	values   []string // values whose shape changes (their value_info is dropped)
}

// passThrough ops keep the channel axis where it is.
func passThrough(op string) bool {
	switch op {
	case "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu", "Celu",
		"Softplus", "Softsign", "Abs", "Neg", "Identity", "Dropout", "Clip", "Erf", "Gelu", "Mish",
		"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "Cast":
		return true
	}
	return false
}

// unsafeError says why a channel group cannot be removed.
type unsafeError struct{ reason string }

func (e *unsafeError) Error() string { return e.reason }

func unsafef(format string, args ...any) error { return &unsafeError{fmt.Sprintf(format, args...)} }

// flowState is a value that carries the producer's channels: on axis (a
// negative index from the end) of a tensor of known rank (0 if unknown), or
// flattened into the last axis in blocks of channel features.
type flowState struct {
	value     string
	axis      int
	rank      int
	flattened bool
}

// planProducer works out every rewrite that removing output channels of n
// needs, or returns an *unsafeError naming the dependency that stops it.
func planProducer(g *onnx.Graph, n *onnxpb.NodeProto) (*channelPlan, error) {
	in := n.GetInput()
	if len(in) < 2 || len(n.GetOutput()) != 1 {
		return nil, unsafef("%s has an unexpected signature", n.GetOpType())
	}
	w := g.Initializer(in[1])
	if w == nil {
		return nil, unsafef("weight %q is not an initializer", in[1])
	}
	if !onnx.TypeOf(w).IsFloat() {
		return nil, unsafef("weight %q is %v, not floating point", in[1], onnx.TypeOf(w))
	}
	if len(g.Consumers(w.GetName())) != 1 {
		return nil, unsafef("weight %q is shared with other nodes", w.GetName())
	}
	dims := w.GetDims()
	p := &channelPlan{producer: n, weight: w}
	var start flowState
	switch n.GetOpType() {
	case "Conv":
		if onnx.AttrInt(n, "group", 1) != 1 || len(dims) < 3 {
			return nil, unsafef("grouped or depthwise Conv")
		}
		p.outAxis = 0
		start = flowState{axis: -(len(dims) - 1), rank: len(dims)}
	case "Gemm":
		if len(dims) != 2 || onnx.AttrInt(n, "transA", 0) != 0 {
			return nil, unsafef("Gemm with transA or a non-2-D weight")
		}
		p.outAxis = 1
		if onnx.AttrInt(n, "transB", 0) != 0 {
			p.outAxis = 0
		}
		start = flowState{axis: -1, rank: 2}
	case "MatMul":
		if len(dims) != 2 {
			return nil, unsafef("MatMul with a batched weight")
		}
		p.outAxis = 1
		start = flowState{axis: -1}
	default:
		return nil, unsafef("%s cannot be pruned structurally", n.GetOpType())
	}
	p.channels = int(dims[p.outAxis])
	p.edits = append(p.edits, sliceEdit{init: w, axis: p.outAxis, block: 1})
	if len(in) > 2 && in[2] != "" { // Conv B / Gemm C
		b := g.Initializer(in[2])
		if b == nil {
			return nil, unsafef("bias %q is not an initializer", in[2])
		}
		if e, ok, err := broadcastEdit(g, b, -1, p.channels); err != nil {
			return nil, err
		} else if ok {
			p.edits = append(p.edits, e)
		}
	}
	start.value = n.GetOutput()[0]
	if err := p.follow(g, start, 0); err != nil {
		return nil, err
	}
	return p, nil
}

// broadcastEdit handles a constant operand broadcast against a value whose
// channels sit on axis (negative): it needs slicing when it has the channel
// count on that axis, and no change when it is 1 there or does not reach it.
func broadcastEdit(g *onnx.Graph, t *onnxpb.TensorProto, axis, channels int) (sliceEdit, bool, error) {
	dims := t.GetDims()
	pos := len(dims) + axis
	if pos < 0 || dims[pos] == 1 {
		return sliceEdit{}, false, nil
	}
	if int(dims[pos]) != channels {
		return sliceEdit{}, false, unsafef("constant %q has shape %v, which does not broadcast along the channel axis", t.GetName(), dims)
	}
	if len(g.Consumers(t.GetName())) != 1 {
		return sliceEdit{}, false, unsafef("constant %q is shared with other nodes", t.GetName())
	}
	return sliceEdit{init: t, axis: pos, block: 1}, true, nil
}

// follow walks the consumers of a channel-carrying value.
func (p *channelPlan) follow(g *onnx.Graph, s flowState, depth int) error {
	if depth > 64 {
		return unsafef("dependency chain too long")
	}
	if g.IsGraphOutput(s.value) {
		return unsafef("%q is a graph output", s.value)
	}
	p.values = append(p.values, s.value)
	for _, c := range g.Consumers(s.value) {
		if err := p.consumer(g, c, s, depth); err != nil {
			return err
		}
	}
	return nil
}

func (p *channelPlan) consumer(g *onnx.Graph, c *onnxpb.NodeProto, s flowState, depth int) error {
	op, in := c.GetOpType(), c.GetInput()
	if c.GetDomain() != "" && c.GetDomain() != "ai.onnx" {
		return unsafef("%s (%s) consumes %q", onnx.NodeLabel(c), op, s.value)
	}
	next := func() error {
		if len(c.GetOutput()) == 0 {
			return nil
		}
		for _, extra := range c.GetOutput()[1:] {
			if extra != "" && len(g.Consumers(extra)) > 0 {
				return unsafef("%s uses a second output of %s", onnx.NodeLabel(c), op)
			}
		}
		return p.follow(g, flowState{value: c.GetOutput()[0], axis: s.axis, rank: s.rank, flattened: s.flattened}, depth+1)
	}
	switch {
	case passThrough(op):
		if in[0] != s.value {
			return unsafef("%s reads %q as a parameter", onnx.NodeLabel(c), s.value)
		}
		if op == "Clip" {
			for _, b := range in[1:] {
				if b != "" && g.Initializer(b) == nil {
					return unsafef("%s has non-constant bounds", onnx.NodeLabel(c))
				}
			}
		}
		return next()
	case op == "BatchNormalization":
		if s.flattened || in[0] != s.value || s.rank == 0 || s.axis != -(s.rank-1) {
			return unsafef("%s normalises another axis than the channels", onnx.NodeLabel(c))
		}
		for _, name := range in[1:] {
			t := g.Initializer(name)
			if t == nil || len(t.GetDims()) != 1 {
				return unsafef("%s has non-constant parameters", onnx.NodeLabel(c))
			}
			e, ok, err := broadcastEdit(g, t, -1, p.channels)
			if err != nil {
				return err
			}
			if ok {
				p.edits = append(p.edits, e)
			}
		}
		return next()
	case op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "PRelu":
		if len(in) != 2 {
			return unsafef("%s has %d inputs", onnx.NodeLabel(c), len(in))
		}
		other := in[0]
		if other == s.value {
			other = in[1]
		}
		if other == s.value { // x op x
			return next()
		}
		t := g.Initializer(other)
		if t == nil {
			return unsafef("%s (%s) joins %q with the non-constant %q (a residual or branch join)", onnx.NodeLabel(c), op, s.value, other)
		}
		if s.flattened {
			return unsafef("%s applies a constant to flattened features", onnx.NodeLabel(c))
		}
		e, ok, err := broadcastEdit(g, t, s.axis, p.channels)
		if err != nil {
			return err
		}
		if ok {
			p.edits = append(p.edits, e)
		}
		return next()
	case op == "Flatten":
		if s.flattened || s.rank == 0 || onnx.AttrInt(c, "axis", 1) != 1 || s.axis != -(s.rank-1) {
			return unsafef("%s flattens across the channel axis in a way that cannot be followed", onnx.NodeLabel(c))
		}
		return p.follow(g, flowState{value: c.GetOutput()[0], axis: -1, rank: 2, flattened: true}, depth+1)
	case op == "Conv":
		if in[0] != s.value || s.flattened || onnx.AttrInt(c, "group", 1) != 1 {
			return unsafef("%s (grouped Conv or weight input) consumes %q", onnx.NodeLabel(c), s.value)
		}
		w := g.Initializer(in[1])
		if w == nil || len(w.GetDims()) < 3 || s.rank == 0 || s.axis != -(s.rank-1) {
			return unsafef("%s has a non-constant weight", onnx.NodeLabel(c))
		}
		if int(w.GetDims()[1]) != p.channels {
			return unsafef("%s expects %d input channels, not %d", onnx.NodeLabel(c), w.GetDims()[1], p.channels)
		}
		return p.consume(g, w, 1, 1)
	case op == "Gemm" || op == "MatMul":
		if in[0] != s.value || s.axis != -1 {
			return unsafef("%s reads %q on another axis than its features", onnx.NodeLabel(c), s.value)
		}
		w := g.Initializer(in[1])
		if w == nil || len(w.GetDims()) != 2 {
			return unsafef("%s has a non-constant or batched weight", onnx.NodeLabel(c))
		}
		if op == "Gemm" && onnx.AttrInt(c, "transA", 0) != 0 {
			return unsafef("%s uses transA", onnx.NodeLabel(c))
		}
		axis := 0
		if op == "Gemm" && onnx.AttrInt(c, "transB", 0) != 0 {
			axis = 1
		}
		k := int(w.GetDims()[axis])
		block := 1
		if s.flattened {
			if k%p.channels != 0 {
				return unsafef("%s has %d input features, not a multiple of %d channels", onnx.NodeLabel(c), k, p.channels)
			}
			block = k / p.channels
		} else if k != p.channels {
			return unsafef("%s expects %d input features, not %d", onnx.NodeLabel(c), k, p.channels)
		}
		return p.consume(g, w, axis, block)
	}
	return unsafef("%s (%s) consumes the channels of %q", onnx.NodeLabel(c), op, s.value)
}

// consume adds the input-channel slice of a following layer's weight.
func (p *channelPlan) consume(g *onnx.Graph, w *onnxpb.TensorProto, axis, block int) error {
	if len(g.Consumers(w.GetName())) != 1 {
		return unsafef("weight %q is shared with other nodes", w.GetName())
	}
	p.edits = append(p.edits, sliceEdit{init: w, axis: axis, block: block})
	return nil
}

// channelNorms returns the criterion norm of every output channel of w.
func channelNorms(st *onnx.TensorStream, w *onnxpb.TensorProto, axis int, criterion string) ([]float64, error) {
	f32, err := st.Float32s(w)
	if err != nil {
		return nil, onnx.TensorError("read weight", w, err)
	}
	vals := make([]float64, len(f32))
	for i, v := range f32 {
		vals[i] = float64(v)
	}
	dims := w.GetDims()
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= int(d)
	}
	size := int(dims[axis])
	norms := make([]float64, size)
	for i, v := range vals {
		ch := (i / inner) % size
		if criterion == CriterionL2 {
			norms[ch] += v * v
		} else {
			norms[ch] += math.Abs(v)
		}
	}
	if criterion == CriterionL2 {
		for i := range norms {
			norms[i] = math.Sqrt(norms[i])
		}
	}
	return norms, nil
}

// keepChannels picks the channels with the largest norms, in index order.
func keepChannels(norms []float64, remove int) []int {
	order := make([]int, len(norms))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return norms[order[a]] < norms[order[b]] })
	keep := append([]int(nil), order[remove:]...)
	sort.Ints(keep)
	return keep
}

// sliceTensor keeps the given channels (of block entries each) along axis.
func sliceTensor(st *onnx.TensorStream, t *onnxpb.TensorProto, axis, block int, keep []int) error {
	raw, err := st.Bytes(t)
	if err != nil {
		return fmt.Errorf("read %q: %w", t.GetName(), err)
	}
	dt := onnx.TypeOf(t)
	size := dt.ByteSize()
	if size <= 0 {
		return fmt.Errorf("slice %q: element type %v is not byte-sized", t.GetName(), dt)
	}
	dims := append([]int64(nil), t.GetDims()...)
	inner := size
	for _, d := range dims[axis+1:] {
		inner *= int(d)
	}
	outer := 1
	for _, d := range dims[:axis] {
		outer *= int(d)
	}
	span := int(dims[axis]) * inner
	chunk := block * inner
	out := make([]byte, 0, outer*len(keep)*chunk)
	for o := 0; o < outer; o++ {
		base := o * span
		for _, k := range keep {
			out = append(out, raw[base+k*chunk:base+(k+1)*chunk]...)
		}
	}
	dims[axis] = int64(len(keep) * block)
	return st.Set(t, dt, dims, out)
}

// pruneStructured removes output channels layer by layer in topological
// order. Groups that cannot be followed are reported as skipped.
func pruneStructured(m *onnx.Model, st *onnx.TensorStream, o *Options, r *Report) error {
	g := m.Graph()
	order, err := g.Topo()
	if err != nil {
		return err
	}
	ops := map[string]bool{}
	for _, op := range o.OpTypes {
		ops[op] = true
	}
	excluded := map[string]bool{}
	for _, n := range o.ExcludeNodes {
		excluded[n] = true
	}
	changed := map[string]bool{}
	for _, n := range order {
		if !ops[n.GetOpType()] || (n.GetDomain() != "" && n.GetDomain() != "ai.onnx") {
			continue
		}
		label := nodeID(n)
		if excluded[n.GetName()] {
			r.Skipped = append(r.Skipped, Skip{Node: nodeID(n), Name: weightName(n), Reason: "node excluded (--exclude-nodes)"})
			continue
		}
		plan, err := planProducer(g, n)
		if err != nil {
			r.Skipped = append(r.Skipped, Skip{Node: nodeID(n), Name: weightName(n), Reason: "kept intact: " + err.Error()})
			continue
		}
		count, _ := onnx.NumElements(plan.weight)
		if count < o.MinParams {
			r.Skipped = append(r.Skipped, Skip{Node: label, Name: plan.weight.GetName(), Reason: fmt.Sprintf("%d parameters, fewer than --min-params %d", count, o.MinParams)})
			continue
		}
		norms, err := channelNorms(st, plan.weight, plan.outAxis, o.Criterion)
		if err != nil {
			return err
		}
		remove := min(roundHalfEven(o.Sparsity*float64(plan.channels)), plan.channels-1)
		layer := Layer{
			Name: plan.weight.GetName(), Node: label, OpType: n.GetOpType(),
			Shape: append([]int64(nil), plan.weight.GetDims()...), Params: count,
			Channels: plan.channels, ChannelsKept: plan.channels - remove, NormRetained: 1,
		}
		if remove > 0 {
			keep := keepChannels(norms, remove)
			var total, kept float64
			for i, v := range norms {
				total += sq(v, o.Criterion)
				if contains(keep, i) {
					kept += sq(v, o.Criterion)
				}
			}
			if total > 0 {
				layer.NormRetained = unsq(kept, o.Criterion) / unsq(total, o.Criterion)
			}
			for _, e := range plan.edits {
				if err := sliceTensor(st, e.init, e.axis, e.block, keep); err != nil {
					return fmt.Errorf("prune %s: %w", label, err)
				}
			}
			for _, v := range plan.values {
				changed[v] = true
			}
		}
		after, _ := onnx.NumElements(plan.weight)
		layer.ParamsAfter = after
		layer.ShapeAfter = append([]int64(nil), plan.weight.GetDims()...)
		vals, err := st.Float32s(plan.weight)
		if err != nil {
			return onnx.TensorError("read weight", plan.weight, err)
		}
		_, _, zeros := importance(vals, o.Criterion, nil)
		layer.SparsityAfter = ratio(zeros, after)
		r.Layers = append(r.Layers, layer)
	}
	dropValueInfo(g.Proto, changed)
	return nil
}

// dropValueInfo removes recorded shapes that pruning made stale; ONNX
// Runtime infers them again on load.
func dropValueInfo(gp *onnxpb.GraphProto, changed map[string]bool) {
	kept := gp.ValueInfo[:0]
	for _, vi := range gp.ValueInfo {
		if !changed[vi.GetName()] {
			kept = append(kept, vi)
		}
	}
	gp.ValueInfo = kept
}

func weightName(n *onnxpb.NodeProto) string {
	if len(n.GetInput()) > 1 {
		return n.GetInput()[1]
	}
	return ""
}

func contains(s []int, v int) bool {
	i := sort.SearchInts(s, v)
	return i < len(s) && s[i] == v
}

// sq and unsq turn channel norms into additive quantities and back, so the
// retained share of the whole layer's norm can be summed over channels.
func sq(v float64, criterion string) float64 {
	if criterion == CriterionL2 {
		return v * v
	}
	return v
}

func unsq(v float64, criterion string) float64 {
	if criterion == CriterionL2 {
		return math.Sqrt(v)
	}
	return v
}
