package prune

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// target is one weight initializer selected for pruning.
type target struct {
	graph *onnx.Graph
	init  *onnxpb.TensorProto
	node  *onnxpb.NodeProto // the first selected op reading it
	// inAxis is the axis of the stored initializer that runs along the
	// op's input dimension (for N:M groups); -1 when it cannot be told.
	inAxis int
}

// Skip records a weight or group that was left alone, and why.
type Skip struct {
	Name   string `json:"name"`
	Node   string `json:"node,omitempty"`
	Reason string `json:"reason"`
}

// weightInput returns the index of the weight input of a selected op and
// the axis of that weight that runs along the op's input dimension.
func weightInput(n *onnxpb.NodeProto, rank int) (input, inAxis int) {
	switch n.GetOpType() {
	case "Conv":
		return 1, 1
	case "Gemm":
		if onnx.AttrInt(n, "transB", 0) != 0 {
			return 1, 1
		}
		return 1, 0
	case "MatMul":
		return 1, rank - 2
	}
	return -1, -1
}

// traceWeight follows a weight input back through Identity and Transpose to
// an initializer. It returns the initializer and the axis permutation that
// maps the op's weight axes to the initializer's axes (nil for identity).
func traceWeight(g *onnx.Graph, name string) (*onnxpb.TensorProto, []int64) {
	var perm []int64
	for depth := 0; depth < 8; depth++ {
		if t := g.Initializer(name); t != nil {
			return t, perm
		}
		p := g.Producer(name)
		if p == nil || len(p.GetInput()) == 0 {
			return nil, nil
		}
		switch p.GetOpType() {
		case "Identity":
		case "Transpose":
			tp := onnx.AttrInts(p, "perm")
			if tp == nil {
				return nil, nil // default perm reverses axes; rank unknown here
			}
			// weight axis a = Transpose output axis a = input axis tp[a];
			// compose with what came before.
			if perm == nil {
				perm = append([]int64(nil), tp...)
			} else {
				next := make([]int64, len(perm))
				for a, q := range perm {
					if q < 0 || int(q) >= len(tp) {
						return nil, nil
					}
					next[a] = tp[q]
				}
				perm = next
			}
		default:
			return nil, nil
		}
		name = p.GetInput()[0]
	}
	return nil, nil
}

// findTargets selects the weight initializers of the chosen op types in the
// main graph and every subgraph. Each initializer appears once even when
// several nodes share it.
func findTargets(m *onnx.Model, o *Options) ([]*target, []Skip) {
	ops := map[string]bool{}
	for _, op := range o.OpTypes {
		ops[op] = true
	}
	excluded := map[string]bool{}
	for _, n := range o.ExcludeNodes {
		excluded[n] = true
	}
	var (
		targets []*target
		skips   []Skip
		seen    = map[*onnxpb.TensorProto]bool{}
	)
	root := m.Graph()
	root.Walk(func(g *onnx.Graph, n *onnxpb.NodeProto) bool {
		if !ops[n.GetOpType()] || n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			return true
		}
		label := nodeID(n)
		idx, _ := weightInput(n, 0)
		if idx < 0 || idx >= len(n.GetInput()) {
			return true
		}
		init, perm := traceWeight(g, n.GetInput()[idx])
		if init == nil {
			skips = append(skips, Skip{Name: n.GetInput()[idx], Node: label, Reason: "weight is not a constant initializer"})
			return true
		}
		if seen[init] {
			return true
		}
		seen[init] = true
		switch {
		case excluded[n.GetName()]:
			skips = append(skips, Skip{Name: init.GetName(), Node: label, Reason: "node excluded (--exclude-nodes)"})
			return true
		case !onnx.TypeOf(init).IsFloat():
			skips = append(skips, Skip{Name: init.GetName(), Node: label, Reason: fmt.Sprintf("weight type %v is not floating point (already quantized?)", onnx.TypeOf(init))})
			return true
		}
		count, err := onnx.NumElements(init)
		if err != nil {
			skips = append(skips, Skip{Name: init.GetName(), Node: label, Reason: err.Error()})
			return true
		}
		if count < o.MinParams {
			skips = append(skips, Skip{Name: init.GetName(), Node: label, Reason: fmt.Sprintf("%d parameters, fewer than --min-params %d", count, o.MinParams)})
			return true
		}
		_, axis := weightInput(n, len(init.GetDims()))
		if perm != nil {
			if axis >= 0 && axis < len(perm) {
				axis = int(perm[axis])
			} else {
				axis = -1
			}
		}
		if axis < 0 || axis >= len(init.GetDims()) {
			axis = -1
		}
		targets = append(targets, &target{graph: g, init: init, node: n, inAxis: axis})
		return true
	})
	return targets, skips
}

// nodeID names a node in reports: its name, or its op type and first output.
func nodeID(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return n.GetName()
	}
	if len(n.GetOutput()) > 0 {
		return n.GetOpType() + "→" + n.GetOutput()[0]
	}
	return n.GetOpType()
}
