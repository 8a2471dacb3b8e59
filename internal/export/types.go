package export

import (
	"context"
	"fmt"

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
	declared := map[string]bool{}
	for _, o := range g.Output {
		declared[o.GetName()] = true
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			if o != "" && !declared[o] {
				declared[o] = true
				g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: ptr(o)})
			}
		}
	}
	b, err := proto.Marshal(c.Proto)
	if err != nil {
		return nil, err
	}
	feeds, err := randomFeeds(g, 1)
	if err != nil {
		return nil, err
	}
	res, err := runModel(ctx, rt, b, feeds)
	if err != nil {
		return nil, fmt.Errorf("find value types: %w", err)
	}
	for name, t := range res {
		types[name] = t.DataType
	}
	return types, nil
}
