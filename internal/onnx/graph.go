package onnx

import (
	"container/heap"
	"fmt"
	"slices"
	"strconv"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Graph indexes a GraphProto for reading and editing: who produces and who
// consumes each value, initializers and value_info by name, and the graphs
// nested in node attributes (If branches, Loop and Scan bodies) with their
// outer scope.
//
// Edit through Graph's methods to keep the index current; after editing
// the proto directly, call Reindex. A Graph is not safe for concurrent use.
type Graph struct {
	Proto *onnxpb.GraphProto
	// Parent is the graph whose node holds this one in an attribute; nil for
	// a top-level graph. Names defined in Parent (and its parents) are
	// visible here.
	Parent *Graph
	// Owner is the node of Parent that holds this graph.
	Owner *onnxpb.NodeProto

	producer  map[string]*onnxpb.NodeProto
	consumers map[string][]*onnxpb.NodeProto
	inits     map[string]*onnxpb.TensorProto
	sparse    map[string]*onnxpb.SparseTensorProto
	values    map[string]*onnxpb.ValueInfoProto
	inputs    map[string]bool
	subs      map[*onnxpb.NodeProto][]*Graph
	names     map[string]bool // every name in the graph tree; shared with subgraphs
}

// NewGraph indexes g and, recursively, every subgraph in its nodes.
func NewGraph(g *onnxpb.GraphProto) *Graph {
	gr := &Graph{Proto: g}
	gr.Reindex()
	return gr
}

func (g *Graph) root() *Graph {
	for g.Parent != nil {
		g = g.Parent
	}
	return g
}

// Reindex rebuilds the index of this graph and its subgraphs from the
// proto. Call it after editing the proto directly.
func (g *Graph) Reindex() {
	if g.Parent == nil {
		g.names = map[string]bool{}
	} else {
		g.names = g.root().names
	}
	g.producer = map[string]*onnxpb.NodeProto{}
	g.consumers = map[string][]*onnxpb.NodeProto{}
	g.inits = map[string]*onnxpb.TensorProto{}
	g.sparse = map[string]*onnxpb.SparseTensorProto{}
	g.values = map[string]*onnxpb.ValueInfoProto{}
	g.inputs = map[string]bool{}
	g.subs = map[*onnxpb.NodeProto][]*Graph{}
	if g.Proto == nil {
		g.Proto = &onnxpb.GraphProto{}
	}
	p := g.Proto
	g.names[p.GetName()] = true
	for _, t := range p.GetInitializer() {
		g.inits[t.GetName()] = t
		g.names[t.GetName()] = true
	}
	for _, s := range p.GetSparseInitializer() {
		name := s.GetValues().GetName()
		g.sparse[name] = s
		g.names[name] = true
	}
	for _, list := range [][]*onnxpb.ValueInfoProto{p.GetValueInfo(), p.GetOutput(), p.GetInput()} {
		for _, v := range list {
			g.values[v.GetName()] = v
			g.names[v.GetName()] = true
		}
	}
	for _, v := range p.GetInput() {
		g.inputs[v.GetName()] = true
	}
	for _, n := range p.GetNode() {
		g.indexNode(n)
	}
}

func (g *Graph) indexNode(n *onnxpb.NodeProto) {
	g.names[n.GetName()] = true
	for _, o := range n.GetOutput() {
		if o != "" {
			g.producer[o] = n
			g.names[o] = true
		}
	}
	for _, in := range g.nodeUses(n) {
		g.consumers[in] = append(g.consumers[in], n)
	}
}

func (g *Graph) unindexNode(n *onnxpb.NodeProto) {
	for _, o := range n.GetOutput() {
		if g.producer[o] == n {
			delete(g.producer, o)
		}
	}
	for _, in := range g.nodeUses(n) {
		g.consumers[in] = slices.DeleteFunc(g.consumers[in], func(c *onnxpb.NodeProto) bool { return c == n })
		if len(g.consumers[in]) == 0 {
			delete(g.consumers, in)
		}
	}
	delete(g.subs, n)
}

// nodeUses lists the names a node reads: its inputs and the outer-scope
// names its subgraphs refer to, each once. It (re)builds the node's
// subgraph index as a side effect.
func (g *Graph) nodeUses(n *onnxpb.NodeProto) []string {
	seen := map[string]bool{}
	var uses []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			uses = append(uses, s)
		}
	}
	for _, in := range n.GetInput() {
		add(in)
	}
	var subs []*Graph
	for _, sp := range subgraphsOf(n) {
		sg := &Graph{Proto: sp, Parent: g, Owner: n}
		sg.Reindex()
		subs = append(subs, sg)
		for _, name := range sg.OuterNames() {
			add(name)
		}
	}
	if len(subs) > 0 {
		g.subs[n] = subs
	}
	return uses
}

// OuterNames lists the names this graph (or its subgraphs) reads but does
// not define: for a subgraph, the values it captures from its outer scope.
func (g *Graph) OuterNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range g.Proto.GetNode() {
		for _, in := range n.GetInput() {
			if in != "" && !g.definesLocally(in) && !seen[in] {
				seen[in] = true
				out = append(out, in)
			}
		}
		for _, sg := range g.subs[n] {
			for _, in := range sg.OuterNames() {
				if !g.definesLocally(in) && !seen[in] {
					seen[in] = true
					out = append(out, in)
				}
			}
		}
	}
	for _, o := range g.Proto.GetOutput() {
		if name := o.GetName(); name != "" && !g.definesLocally(name) && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

func (g *Graph) definesLocally(name string) bool {
	return g.producer[name] != nil || g.inputs[name] || g.inits[name] != nil || g.sparse[name] != nil
}

// Producer returns the node of this graph that outputs name, or nil (graph
// inputs, initializers and outer-scope values have no producer here).
func (g *Graph) Producer(name string) *onnxpb.NodeProto { return g.producer[name] }

// Consumers returns the nodes of this graph that read name, either as an
// input or through a subgraph that captures it from this scope.
func (g *Graph) Consumers(name string) []*onnxpb.NodeProto {
	return slices.Clone(g.consumers[name])
}

// IsGraphOutput reports whether name is one of this graph's outputs.
func (g *Graph) IsGraphOutput(name string) bool {
	for _, o := range g.Proto.GetOutput() {
		if o.GetName() == name {
			return true
		}
	}
	return false
}

// IsInput reports whether name is one of this graph's declared inputs.
func (g *Graph) IsInput(name string) bool { return g.inputs[name] }

// Initializer returns the dense initializer called name, looking in this
// graph and then outward through enclosing graphs; nil if none.
func (g *Graph) Initializer(name string) *onnxpb.TensorProto {
	for s := g; s != nil; s = s.Parent {
		if s.definesLocally(name) {
			return s.inits[name]
		}
	}
	return nil
}

// SparseInitializer is Initializer for sparse_initializer entries.
func (g *Graph) SparseInitializer(name string) *onnxpb.SparseTensorProto {
	for s := g; s != nil; s = s.Parent {
		if s.definesLocally(name) {
			return s.sparse[name]
		}
	}
	return nil
}

// ValueInfo returns the declared type of name (graph input, output or
// value_info), looking outward through enclosing graphs; nil if undeclared.
func (g *Graph) ValueInfo(name string) *onnxpb.ValueInfoProto {
	for s := g; s != nil; s = s.Parent {
		if v := s.values[name]; v != nil {
			return v
		}
	}
	return nil
}

// Defined reports whether name is visible here: defined in this graph or
// any enclosing one.
func (g *Graph) Defined(name string) bool {
	for s := g; s != nil; s = s.Parent {
		if s.definesLocally(name) {
			return true
		}
	}
	return false
}

// Subgraphs returns the graphs held in n's attributes, indexed with this
// graph as their parent.
func (g *Graph) Subgraphs(n *onnxpb.NodeProto) []*Graph { return g.subs[n] }

// Walk calls fn for every node of this graph and, depth first, of its
// subgraphs (a node before the nodes of its subgraphs). fn returns false to
// stop the walk; Walk then returns false.
func (g *Graph) Walk(fn func(g *Graph, n *onnxpb.NodeProto) bool) bool {
	for _, n := range g.Proto.GetNode() {
		if !fn(g, n) {
			return false
		}
		for _, sg := range g.subs[n] {
			if !sg.Walk(fn) {
				return false
			}
		}
	}
	return true
}

// Topo returns this graph's nodes in a topological order, keeping the file
// order wherever it is already valid. It fails on a cycle or a node whose
// input no node, input, initializer or outer scope defines.
func (g *Graph) Topo() ([]*onnxpb.NodeProto, error) {
	nodes := g.Proto.GetNode()
	indeg := make(map[*onnxpb.NodeProto]int, len(nodes))
	users := map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}
	for _, n := range nodes {
		deps := map[*onnxpb.NodeProto]bool{}
		for _, in := range g.nodeInputsWithCaptures(n) {
			if p := g.producer[in]; p != nil && p != n && !deps[p] {
				deps[p] = true
				users[p] = append(users[p], n)
			} else if p == nil && !g.Defined(in) {
				return nil, fmt.Errorf("node %s: input %q is not produced by any node and is not a graph input or initializer", NodeLabel(n), in)
			}
		}
		indeg[n] = len(deps)
	}
	// Kahn's algorithm, always taking the earliest ready node in file
	// order (a min-heap of positions), so a sorted graph keeps its order.
	pos := make(map[*onnxpb.NodeProto]int, len(nodes))
	for i, n := range nodes {
		pos[n] = i
	}
	ready := &posHeap{}
	for i, n := range nodes {
		if indeg[n] == 0 {
			heap.Push(ready, i)
		}
	}
	out := make([]*onnxpb.NodeProto, 0, len(nodes))
	for ready.Len() > 0 {
		n := nodes[heap.Pop(ready).(int)]
		out = append(out, n)
		for _, u := range users[n] {
			if indeg[u]--; indeg[u] == 0 {
				heap.Push(ready, pos[u])
			}
		}
	}
	if len(out) != len(nodes) {
		for _, n := range nodes {
			if indeg[n] > 0 {
				return nil, fmt.Errorf("graph %q has a cycle through node %s", g.Proto.GetName(), NodeLabel(n))
			}
		}
	}
	return out, nil
}

func (g *Graph) nodeInputsWithCaptures(n *onnxpb.NodeProto) []string {
	var ins []string
	for _, in := range n.GetInput() {
		if in != "" {
			ins = append(ins, in)
		}
	}
	for _, sg := range g.subs[n] {
		ins = append(ins, sg.OuterNames()...)
	}
	return ins
}

// SortTopologically reorders the graph's nodes (not its subgraphs') into
// the order Topo returns.
func (g *Graph) SortTopologically() error {
	order, err := g.Topo()
	if err != nil {
		return err
	}
	g.Proto.Node = order
	return nil
}

// SortTopologically puts the nodes of the model's graph and of every
// subgraph in a topological order (see Graph.Topo). Exporters and hand
// edits write graphs whose nodes are out of order; ONNX Runtime sorts them
// when it loads them, so commands that rewrite a model sort it on load
// rather than refuse it. It fails only on a cycle or an undefined input,
// which no runtime accepts either.
func (m *Model) SortTopologically() error {
	var sortAll func(g *Graph) error
	sortAll = func(g *Graph) error {
		nodes := g.Proto.GetNode()
		for _, n := range nodes {
			for _, sg := range g.subs[n] {
				if err := sortAll(sg); err != nil {
					return err
				}
			}
		}
		return g.SortTopologically()
	}
	return sortAll(m.Graph())
}

// NodeLabel names a node for messages: its name, or op type and position
// of its first output when it has no name.
func NodeLabel(n *onnxpb.NodeProto) string {
	if n.GetName() != "" {
		return strconv.Quote(n.GetName())
	}
	if len(n.GetOutput()) > 0 {
		return fmt.Sprintf("%s(→%q)", n.GetOpType(), n.GetOutput()[0])
	}
	return n.GetOpType()
}

// UniqueName returns base if no node, value, initializer or graph in the
// whole graph tree uses it, else base_1, base_2, ... The name is reserved:
// later calls will not return it again.
func (g *Graph) UniqueName(base string) string {
	names := g.root().names
	name := base
	for i := 1; names[name] || name == ""; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	names[name] = true
	return name
}

// posHeap is a min-heap of node positions for Topo.
type posHeap []int

func (h posHeap) Len() int           { return len(h) }
func (h posHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h posHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *posHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *posHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
