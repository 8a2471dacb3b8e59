package onnx

import (
	"fmt"
	"slices"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func (g *Graph) nodeIndex(n *onnxpb.NodeProto) int {
	return slices.Index(g.Proto.Node, n)
}

// InsertNode inserts n at position i of the node list (0 ≤ i ≤ len).
func (g *Graph) InsertNode(i int, n *onnxpb.NodeProto) error {
	if i < 0 || i > len(g.Proto.Node) {
		return fmt.Errorf("insert node %s: position %d is outside 0..%d", NodeLabel(n), i, len(g.Proto.Node))
	}
	for _, o := range n.GetOutput() {
		if p := g.producer[o]; o != "" && p != nil {
			return fmt.Errorf("insert node %s: output %q is already produced by node %s", NodeLabel(n), o, NodeLabel(p))
		}
	}
	g.Proto.Node = slices.Insert(g.Proto.Node, i, n)
	g.indexNode(n)
	return nil
}

// AddNode appends n to the node list.
func (g *Graph) AddNode(n *onnxpb.NodeProto) error { return g.InsertNode(len(g.Proto.Node), n) }

// InsertBefore inserts n just before ref.
func (g *Graph) InsertBefore(ref, n *onnxpb.NodeProto) error {
	i := g.nodeIndex(ref)
	if i < 0 {
		return fmt.Errorf("insert before %s: node is not in graph %q", NodeLabel(ref), g.Proto.GetName())
	}
	return g.InsertNode(i, n)
}

// InsertAfter inserts n just after ref.
func (g *Graph) InsertAfter(ref, n *onnxpb.NodeProto) error {
	i := g.nodeIndex(ref)
	if i < 0 {
		return fmt.Errorf("insert after %s: node is not in graph %q", NodeLabel(ref), g.Proto.GetName())
	}
	return g.InsertNode(i+1, n)
}

// RemoveNode deletes n from the graph. Its outputs become undefined; rewire
// their consumers first (ReplaceAllUses).
func (g *Graph) RemoveNode(n *onnxpb.NodeProto) error {
	i := g.nodeIndex(n)
	if i < 0 {
		return fmt.Errorf("remove node %s: node is not in graph %q", NodeLabel(n), g.Proto.GetName())
	}
	g.Proto.Node = slices.Delete(g.Proto.Node, i, i+1)
	g.unindexNode(n)
	return nil
}

// ReplaceNode puts repl (zero or more nodes) where old was.
func (g *Graph) ReplaceNode(old *onnxpb.NodeProto, repl ...*onnxpb.NodeProto) error {
	i := g.nodeIndex(old)
	if i < 0 {
		return fmt.Errorf("replace node %s: node is not in graph %q", NodeLabel(old), g.Proto.GetName())
	}
	g.Proto.Node = slices.Delete(g.Proto.Node, i, i+1)
	g.unindexNode(old)
	for j, n := range repl {
		if err := g.InsertNode(i+j, n); err != nil {
			return fmt.Errorf("replace node %s: %w", NodeLabel(old), err)
		}
	}
	return nil
}

// ReplaceAllUses makes every reader of value old in this graph read new
// instead, including subgraphs that capture old from this scope (unless a
// subgraph defines its own old). Graph outputs of this graph are not
// renamed: they are the graph's interface.
func (g *Graph) ReplaceAllUses(old, new string) {
	g.replaceUses(old, new)
	g.Reindex()
}

func (g *Graph) replaceUses(old, new string) {
	for _, n := range g.Proto.Node {
		for i, in := range n.Input {
			if in == old {
				n.Input[i] = new
			}
		}
		for _, sg := range g.subs[n] {
			if sg.definesLocally(old) {
				continue
			}
			sg.replaceUses(old, new)
			for _, o := range sg.Proto.Output {
				if o.GetName() == old {
					o.Name = &new
				}
			}
		}
	}
}

// AddInitializer adds t to this graph's initializers; the name must be new
// in this graph.
func (g *Graph) AddInitializer(t *onnxpb.TensorProto) error {
	if g.definesLocally(t.GetName()) {
		return fmt.Errorf("add initializer %q: the name is already defined in graph %q", t.GetName(), g.Proto.GetName())
	}
	g.Proto.Initializer = append(g.Proto.Initializer, t)
	g.inits[t.GetName()] = t
	g.names[t.GetName()] = true
	return nil
}

// RemoveInitializer deletes the dense initializer called name from this
// graph and reports whether it existed.
func (g *Graph) RemoveInitializer(name string) bool {
	t := g.inits[name]
	if t == nil {
		return false
	}
	g.Proto.Initializer = slices.DeleteFunc(g.Proto.Initializer, func(x *onnxpb.TensorProto) bool { return x == t })
	delete(g.inits, name)
	return true
}

// RemoveDeadNodes deletes nodes whose outputs reach no graph output,
// directly or through other nodes and subgraph captures, in this graph and
// every subgraph. It returns how many nodes it removed.
func (g *Graph) RemoveDeadNodes() int {
	removed := 0
	for _, n := range g.Proto.Node {
		for _, sg := range g.subs[n] {
			removed += sg.RemoveDeadNodes()
		}
	}
	live := map[string]bool{}
	for _, o := range g.Proto.Output {
		live[o.GetName()] = true
	}
	keep := make([]bool, len(g.Proto.Node))
	// Walk backwards: in a valid graph every consumer comes after its
	// producer. Repeat until stable so unsorted graphs are handled too.
	for changed := true; changed; {
		changed = false
		for i := len(g.Proto.Node) - 1; i >= 0; i-- {
			n := g.Proto.Node[i]
			if keep[i] || !slices.ContainsFunc(n.Output, func(o string) bool { return o != "" && live[o] }) {
				continue
			}
			keep[i], changed = true, true
			for _, in := range g.nodeInputsWithCaptures(n) {
				live[in] = true
			}
		}
	}
	var kept []*onnxpb.NodeProto
	for i, n := range g.Proto.Node {
		if keep[i] {
			kept = append(kept, n)
		} else {
			removed++
		}
	}
	if len(kept) != len(g.Proto.Node) {
		g.Proto.Node = kept
		g.Reindex()
	}
	return removed
}

// RemoveUnusedInitializers deletes initializers (dense and sparse) that no
// node of this graph reads, directly or through a subgraph capture, and
// that are not graph outputs, in this graph and every subgraph. An unused
// initializer that is also listed as a graph input (IR < 4 style) is
// removed from the inputs as well. It returns how many it removed.
func (g *Graph) RemoveUnusedInitializers() int {
	removed := 0
	for _, n := range g.Proto.Node {
		for _, sg := range g.subs[n] {
			removed += sg.RemoveUnusedInitializers()
		}
	}
	used := func(name string) bool { return len(g.consumers[name]) > 0 || g.IsGraphOutput(name) }
	var dropInputs []string
	before := len(g.Proto.Initializer) + len(g.Proto.SparseInitializer)
	g.Proto.Initializer = slices.DeleteFunc(g.Proto.Initializer, func(t *onnxpb.TensorProto) bool {
		if used(t.GetName()) {
			return false
		}
		dropInputs = append(dropInputs, t.GetName())
		return true
	})
	g.Proto.SparseInitializer = slices.DeleteFunc(g.Proto.SparseInitializer, func(s *onnxpb.SparseTensorProto) bool {
		if used(s.GetValues().GetName()) {
			return false
		}
		dropInputs = append(dropInputs, s.GetValues().GetName())
		return true
	})
	removed += before - len(g.Proto.Initializer) - len(g.Proto.SparseInitializer)
	if len(dropInputs) > 0 {
		g.Proto.Input = slices.DeleteFunc(g.Proto.Input, func(v *onnxpb.ValueInfoProto) bool {
			return slices.Contains(dropInputs, v.GetName())
		})
		g.Reindex()
	}
	return removed
}

// OpsetVersion returns the version of the operator set imported for domain
// ("" and "ai.onnx" are the same domain) and whether it is imported.
func OpsetVersion(mp *onnxpb.ModelProto, domain string) (int64, bool) {
	for _, o := range mp.GetOpsetImport() {
		if normDomain(o.GetDomain()) == normDomain(domain) {
			return o.GetVersion(), true
		}
	}
	return 0, false
}

// Opsets returns the imported operator sets as domain → version, with the
// default domain under "ai.onnx".
func Opsets(mp *onnxpb.ModelProto) map[string]int64 {
	out := map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		d := o.GetDomain()
		if d == "" {
			d = "ai.onnx"
		}
		out[d] = o.GetVersion()
	}
	return out
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}
