package export

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// valueTypes learns the element type of every value of the top-level graph
// by asking ONNX Runtime: every node output becomes a graph output and the
// model runs once on seeded inputs. This works for any operator ORT knows,
// where our own type rules would have to list them all.
func valueTypes(ctx context.Context, rt *runtime.Runtime, m *onnx.Model) (map[string]onnx.DataType, error) {
	c := m.Clone()
	defer c.Close()
	if err := c.InlineExternalData(); err != nil {
		return nil, err
	}
	g := c.Proto.Graph
	types := map[string]onnx.DataType{}
	for _, vi := range append(append([]*onnxpb.ValueInfoProto{}, g.Input...), g.Output...) {
		if tt := vi.GetType().GetTensorType(); tt != nil {
			types[vi.GetName()] = onnx.DataType(tt.GetElemType())
		}
	}
	for _, t := range g.Initializer {
		types[t.GetName()] = onnx.TypeOf(t)
	}
	var probe []string
	for _, n := range g.Node {
		if nonTensorOp(n) {
			continue // not tensors: our runtime returns only tensors
		}
		for _, o := range n.Output {
			if o != "" {
				probe = append(probe, o)
			}
		}
	}
	g.Output = nil // every output is probed below, untyped so that ORT allocates it
	flat, _, err := probeOutputs(g, probe)
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(c.Proto)
	if err != nil {
		return nil, err
	}
	// Integer inputs are often indices (0 is safe) or shapes and sizes (1
	// is safe); try both before giving up.
	var res map[string]*runtime.Tensor
	for _, fill := range []int64{0, 1} {
		feeds, ferr := randomFeeds(g, 1, fill)
		if ferr != nil {
			return nil, ferr
		}
		if res, err = runModel(ctx, rt, b, feeds); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("find value types by running the model on test inputs: %w", err)
	}
	for _, v := range probe {
		if t := res[flat[v]]; t != nil {
			types[v] = t.DataType
		}
	}
	return types, nil
}

// nonTensorOp reports ops whose outputs are sequences or optionals.
func nonTensorOp(n *onnxpb.NodeProto) bool {
	op := n.GetOpType()
	return strings.HasPrefix(op, "Sequence") || op == "SplitToSequence" || strings.HasPrefix(op, "Optional")
}

// probeOutputs makes each of names observable as a graph output of g in a
// form our runtime returns reliably: flattened to 1-D by Reshape (rank-0
// outputs allocated by ORT are not handled by onnxruntime_go), with its
// shape as a second int64 output. It returns the output names per value.
func probeOutputs(g *onnxpb.GraphProto, names []string) (flat, shape map[string]string, err error) {
	gr := onnx.NewGraph(g)
	minus1 := gr.UniqueName("mlops_probe_minus1")
	t := &onnxpb.TensorProto{Name: ptr(minus1)}
	if err := onnx.SetValues(t, []int64{1}, []int64{-1}); err != nil {
		return nil, nil, err
	}
	g.Initializer = append(g.Initializer, t)
	flat, shape = map[string]string{}, map[string]string{}
	for _, v := range names {
		f, s := gr.UniqueName(v+"_mlops_flat"), gr.UniqueName(v+"_mlops_shape")
		flat[v], shape[v] = f, s
		g.Node = append(g.Node,
			&onnxpb.NodeProto{OpType: ptr("Reshape"), Name: ptr(f), Input: []string{v, minus1}, Output: []string{f}},
			&onnxpb.NodeProto{OpType: ptr("Shape"), Name: ptr(s), Input: []string{v}, Output: []string{s}})
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: ptr(f)}, &onnxpb.ValueInfoProto{Name: ptr(s)})
		gr.Reindex()
	}
	return flat, shape, nil
}
