package retrain

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	gonnx "github.com/gomlx/onnx-gomlx/onnx"
	"github.com/gomlx/onnx-gomlx/onnx/parser"
	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// NoGradientError says which op on the path from the loss to a trainable
// weight the training backend cannot differentiate (or cannot build).
type NoGradientError struct {
	OpType, Node string
	Cause        error
}

func (e *NoGradientError) Error() string {
	return fmt.Sprintf("%s node %s has no gradient in the training backend (%s); "+
		"train only the final layer with --trainable head, or freeze everything before this node with a --trainable pattern",
		e.OpType, e.Node, shortCause(e.Cause))
}

// shortCause keeps the backend's own words from gomlx's wrapped panic.
func shortCause(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "panicked: "); i >= 0 {
		s = s[i+len("panicked: "):]
	}
	if i := strings.Index(s, " -- "); i >= 0 {
		s = s[:i]
	}
	return strings.TrimPrefix(s, "sorry, ")
}

func (e *NoGradientError) Unwrap() error { return e.Cause }

// gradPath lists, in graph order, the nodes that lie on a path from a
// trainable initializer to the loss tensor.
func gradPath(g *onnx.Graph, trainable []string, loss string) ([]*onnxpb.NodeProto, error) {
	nodes, err := g.Topo()
	if err != nil {
		return nil, err
	}
	reach := map[string]bool{}
	for _, n := range trainable {
		reach[n] = true
	}
	fwd := map[*onnxpb.NodeProto]bool{}
	for _, n := range nodes {
		for _, in := range n.GetInput() {
			if reach[in] {
				fwd[n] = true
			}
		}
		if fwd[n] {
			for _, o := range n.GetOutput() {
				reach[o] = true
			}
		}
	}
	need := map[string]bool{loss: true}
	var path []*onnxpb.NodeProto
	for i := len(nodes) - 1; i >= 0; i-- {
		n := nodes[i]
		used := false
		for _, o := range n.GetOutput() {
			used = used || need[o]
		}
		if !used {
			continue
		}
		for _, in := range n.GetInput() {
			need[in] = true
		}
		if fwd[n] {
			path = append(path, n)
		}
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path, nil
}

// diagnoseGradient runs when the training step fails to build: it probes
// each node on the gradient path alone (a one-node model with inputs of the
// shapes the real batch gives) and returns a NoGradientError for the first
// one whose gradient cannot be built. It returns nil when every node passes
// alone, and the caller then reports the original error.
func diagnoseGradient(be compute.Backend, src *onnx.Model, gm gonnx.Model, store *model.Store, inputs []string,
	args []any, trainable []string, loss string) error {
	g := src.Graph()
	path, err := gradPath(g, trainable, loss)
	if err != nil || len(path) == 0 {
		return nil
	}
	var names []string
	for _, n := range path {
		names = append(names, n.GetInput()...)
		names = append(names, n.GetOutput()...)
	}
	names = dedupNonEmpty(names)
	shapeOf := map[string]shapes.Shape{}
	if err := catch(func() error {
		fwd, err := model.NewExec(be, store, func(scope *model.Scope, ins []*Node) []*Node {
			feeds := map[string]*Node{}
			for i, name := range inputs {
				feeds[name] = ins[i]
			}
			var want []string
			for _, n := range names {
				if g.Initializer(n) == nil {
					want = append(want, n)
				}
			}
			outs := gm.CallGraph(scope, ins[0].Graph(), feeds, want...)
			for i, n := range want {
				shapeOf[n] = outs[i].Shape()
			}
			return outs[:1]
		})
		if err != nil {
			return err
		}
		return fwd.PreCompile(args[:len(inputs)]...)
	}); err != nil {
		return nil // the forward pass itself fails; its own error says why
	}
	reach := map[string]bool{}
	for _, n := range trainable {
		reach[n] = true
	}
	for _, n := range path {
		for _, o := range n.GetOutput() {
			reach[o] = true
		}
	}
	seen := map[string]bool{}
	for _, n := range path {
		sig := probeSignature(n, shapeOf)
		if seen[sig] {
			continue
		}
		seen[sig] = true
		if err := probeNode(be, g, n, shapeOf, reach, src.Proto.GetOpsetImport()); err != nil {
			return &NoGradientError{OpType: n.GetOpType(), Node: onnx.NodeLabel(n), Cause: err}
		}
	}
	return nil
}

func dedupNonEmpty(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func probeSignature(n *onnxpb.NodeProto, shapeOf map[string]shapes.Shape) string {
	var b strings.Builder
	b.WriteString(n.GetDomain() + "/" + n.GetOpType())
	for _, a := range n.GetAttribute() {
		raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(a)
		b.Write(raw)
	}
	for _, in := range n.GetInput() {
		fmt.Fprintf(&b, "|%s", shapeOf[in])
	}
	return b.String()
}

// probeNode builds gradient(sum(outputs)) of node n alone with respect to
// its inputs on the gradient path.
func probeNode(be compute.Backend, g *onnx.Graph, n *onnxpb.NodeProto, shapeOf map[string]shapes.Shape,
	reach map[string]bool, opsets []*onnxpb.OperatorSetIdProto) error {
	pg := &onnxpb.GraphProto{Name: proto.String("probe"), Node: []*onnxpb.NodeProto{proto.Clone(n).(*onnxpb.NodeProto)}}
	var feedNames []string
	var feeds []*tensors.Tensor
	for _, in := range n.GetInput() {
		if in == "" {
			continue
		}
		if t := g.Initializer(in); t != nil {
			pg.Initializer = append(pg.Initializer, t)
			continue
		}
		sh, ok := shapeOf[in]
		if !ok {
			return nil
		}
		et, ok := onnxElemType(sh.DType)
		if !ok {
			return nil
		}
		pg.Input = append(pg.Input, valueInfo(in, et, sh.Dimensions))
		feedNames = append(feedNames, in)
		feeds = append(feeds, tensors.FromShape(sh))
	}
	for _, o := range n.GetOutput() {
		sh, ok := shapeOf[o]
		if o == "" || !ok {
			continue
		}
		et, ok := onnxElemType(sh.DType)
		if !ok {
			return nil
		}
		pg.Output = append(pg.Output, valueInfo(o, et, sh.Dimensions))
	}
	if len(pg.Output) == 0 {
		return nil
	}
	mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: pg, OpsetImport: opsets}
	raw, err := proto.Marshal(mp)
	if err != nil {
		return nil
	}
	var pm gonnx.Model
	if err := catch(func() error {
		var e error
		pm, e = parser.Parse(raw)
		return e
	}); err != nil {
		return err
	}
	pm.DisableFusion()
	store := model.NewStore()
	if err := catch(func() error { return pm.VariablesToScope(store.RootScope()) }); err != nil {
		return err
	}
	return catch(func() error {
		ex, err := model.NewExec(be, store, func(scope *model.Scope, ins []*Node) []*Node {
			gr := ins[0].Graph()
			fm := map[string]*Node{}
			for i, name := range feedNames {
				fm[name] = ins[i]
			}
			outs := pm.CallGraph(scope, gr, fm, pg.Output[0].GetName())
			var wrt []*Node
			for i, name := range feedNames {
				if reach[name] && ins[i].DType().IsFloat() {
					wrt = append(wrt, ins[i])
				}
			}
			for _, in := range n.GetInput() {
				if v := store.GetVariable(varPath(in)); v != nil && reach[in] && v.DType().IsFloat() {
					wrt = append(wrt, v.NodeValue(gr))
				}
			}
			out := outs[0]
			if !out.DType().IsFloat() || len(wrt) == 0 {
				return []*Node{out}
			}
			return Gradient(ReduceAllSum(out), wrt...)
		})
		if err != nil {
			return err
		}
		return ex.PreCompile(anySlice(feeds)...)
	})
}

func anySlice(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

func onnxElemType(d dtypes.DType) (onnx.DataType, bool) {
	switch d {
	case dtypes.Float32:
		return onnx.Float, true
	case dtypes.Float64:
		return onnx.Double, true
	case dtypes.Int64:
		return onnx.Int64, true
	case dtypes.Int32:
		return onnx.Int32, true
	case dtypes.Bool:
		return onnx.Bool, true
	}
	return 0, false
}

func valueInfo(name string, et onnx.DataType, dims []int) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(et)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
}
