package onnx

import (
	"fmt"
	"os"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// Problem is one structural defect found by Check.
type Problem struct {
	// Path locates the defect: graph, node and attribute names from the
	// model's top, e.g. `graph "main" › node "loop" (Loop) › body › node "add" (Add)`.
	Path    string
	Message string
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// CheckError lists every problem Check found.
type CheckError struct {
	Problems []Problem
}

func (e *CheckError) Error() string {
	const show = 20
	var b strings.Builder
	fmt.Fprintf(&b, "model check failed with %d problem(s):", len(e.Problems))
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-show)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Check validates the model's structure without reading tensor bytes:
// every node input is defined before use (following subgraph scoping),
// every value is assigned once, every domain used is imported, initializers
// have data matching their type and dims, external data stays inside the
// model's folder (no symbolic link out of it) and exists, and the main
// graph's inputs and outputs are declared with types. It returns nil or a
// *CheckError.
func Check(m *Model) error {
	c := &checker{mp: m.Proto, dir: m.Dir}
	c.run()
	if len(c.problems) == 0 {
		return nil
	}
	return &CheckError{Problems: c.problems}
}

type checker struct {
	mp        *onnxpb.ModelProto
	dir       string // the model's folder, "" when it was not loaded from a file
	problems  []Problem
	functions map[string]bool // domain + "\x00" + name
}

// scope is the set of names visible at a point; outer is the enclosing
// graph's scope as it was at the owner node.
type scope struct {
	names map[string]bool
	outer *scope
	// producers maps every node output of this graph to its node, to tell
	// "defined later" (unsorted graph) from "never defined".
	producers map[string]*onnxpb.NodeProto
}

func (s *scope) has(name string) bool {
	for ; s != nil; s = s.outer {
		if s.names[name] {
			return true
		}
	}
	return false
}

// laterProducer finds a node of this graph or an enclosing one that
// outputs name, for the "used before defined" message.
func (s *scope) laterProducer(name string) *onnxpb.NodeProto {
	for ; s != nil; s = s.outer {
		if p := s.producers[name]; p != nil {
			return p
		}
	}
	return nil
}

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) run() {
	mp := c.mp
	if mp.GetIrVersion() <= 0 {
		c.add("model", "ir_version is missing; set it to the ONNX IR version the model was written for")
	}
	if mp.GetIrVersion() >= 3 && len(mp.GetOpsetImport()) == 0 {
		c.add("model", "opset_import is empty; a model of IR version 3 or later must import the opsets it uses")
	}
	seen := map[string]bool{}
	for _, o := range mp.GetOpsetImport() {
		d := normDomain(o.GetDomain())
		if seen[d] {
			c.add("model", "opset for domain %q is imported more than once", displayDomain(d))
		}
		seen[d] = true
	}
	c.functions = map[string]bool{}
	for _, f := range mp.GetFunctions() {
		c.functions[f.GetDomain()+"\x00"+f.GetName()] = true
	}
	if mp.Graph == nil {
		c.add("model", "the model has no graph")
	} else {
		c.graph(mp.Graph, fmt.Sprintf("graph %q", mp.Graph.GetName()), nil, opsetSet(mp.GetOpsetImport()), true)
	}
	for i, ti := range mp.GetTrainingInfo() {
		// Training graphs see the main graph's initializers (they update them).
		outer := &scope{names: map[string]bool{}}
		for _, t := range mp.GetGraph().GetInitializer() {
			outer.names[t.GetName()] = true
		}
		ops := opsetSet(mp.GetOpsetImport())
		if g := ti.GetInitialization(); g != nil {
			c.graph(g, fmt.Sprintf("training_info[%d] › initialization graph %q", i, g.GetName()), outer, ops, false)
		}
		if g := ti.GetAlgorithm(); g != nil {
			c.graph(g, fmt.Sprintf("training_info[%d] › algorithm graph %q", i, g.GetName()), outer, ops, false)
		}
	}
	for _, f := range mp.GetFunctions() {
		c.function(f)
	}
}

func opsetSet(ops []*onnxpb.OperatorSetIdProto) map[string]bool {
	s := map[string]bool{}
	for _, o := range ops {
		s[normDomain(o.GetDomain())] = true
	}
	return s
}

func displayDomain(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

func (c *checker) graph(g *onnxpb.GraphProto, path string, outer *scope, opsets map[string]bool, main bool) {
	sc := &scope{names: map[string]bool{}, outer: outer, producers: map[string]*onnxpb.NodeProto{}}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if _, dup := sc.producers[o]; o != "" && !dup {
				sc.producers[o] = n
			}
		}
	}
	for _, v := range g.GetInput() {
		c.valueInfo(v, path, "input", main)
		sc.names[v.GetName()] = true
	}
	inputs := map[string]bool{}
	for _, v := range g.GetInput() {
		inputs[v.GetName()] = true
	}
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		p := fmt.Sprintf("%s › initializer %q", path, t.GetName())
		if t.GetName() == "" {
			c.add(path, "an initializer has no name")
		} else if inits[t.GetName()] {
			c.add(p, "the name is used by more than one initializer")
		}
		if c.mp.GetIrVersion() > 0 && c.mp.GetIrVersion() < 4 && !inputs[t.GetName()] {
			c.add(p, "IR version %d requires every initializer to be listed as a graph input", c.mp.GetIrVersion())
		}
		inits[t.GetName()] = true
		sc.names[t.GetName()] = true
		c.tensor(t, p)
	}
	for _, s := range g.GetSparseInitializer() {
		name := s.GetValues().GetName()
		p := fmt.Sprintf("%s › sparse initializer %q", path, name)
		if name == "" {
			c.add(path, "a sparse initializer has no name (its values tensor names it)")
		} else if inits[name] {
			c.add(p, "the name is used by more than one initializer")
		}
		inits[name] = true
		sc.names[name] = true
		c.sparse(s, p)
	}
	for _, n := range g.GetNode() {
		c.node(n, path, sc, opsets)
	}
	for _, v := range g.GetOutput() {
		c.valueInfo(v, path, "output", main)
		if v.GetName() != "" && !sc.has(v.GetName()) {
			c.add(fmt.Sprintf("%s › output %q", path, v.GetName()), "no node, input or initializer defines this graph output")
		}
	}
}

func (c *checker) valueInfo(v *onnxpb.ValueInfoProto, path, kind string, main bool) {
	if v.GetName() == "" {
		c.add(path, "a graph %s has no name", kind)
		return
	}
	if !main {
		return // ONNX lets subgraph inputs and outputs leave their type to inference
	}
	p := fmt.Sprintf("%s › %s %q", path, kind, v.GetName())
	tp := v.GetType()
	if tp == nil || tp.GetValue() == nil {
		c.add(p, "the %s is declared without a type; main-graph inputs and outputs need one", kind)
		return
	}
	if tt := tp.GetTensorType(); tt != nil && tt.GetElemType() == 0 {
		c.add(p, "the %s is a tensor with no element type", kind)
	}
}

func (c *checker) node(n *onnxpb.NodeProto, graphPath string, sc *scope, opsets map[string]bool) {
	path := fmt.Sprintf("%s › node %s (%s)", graphPath, NodeLabel(n), n.GetOpType())
	if n.GetOpType() == "" {
		c.add(path, "the node has no op_type")
	}
	d := normDomain(n.GetDomain())
	if !opsets[d] && !c.functions[n.GetDomain()+"\x00"+n.GetOpType()] {
		c.add(path, "domain %q is used but not in opset_import; add an opset import for it", displayDomain(d))
	}
	for _, in := range n.GetInput() {
		if in == "" || sc.has(in) {
			continue
		}
		if p := sc.laterProducer(in); p != nil {
			c.add(path, "input %q is used before node %s produces it: the nodes are not in topological order (ONNX Runtime and mlops convert, quantize and prune sort them when they load the model)", in, NodeLabel(p))
		} else {
			c.add(path, "input %q is not defined (not a graph input, initializer, outer-scope value or output of any node)", in)
		}
	}
	for _, a := range n.GetAttribute() {
		ap := fmt.Sprintf("%s › attribute %q", path, a.GetName())
		if a.GetName() == "" {
			c.add(path, "an attribute has no name")
		}
		switch a.GetType() {
		case onnxpb.AttributeProto_GRAPH:
			if a.G == nil {
				c.add(ap, "attribute of type GRAPH holds no graph")
			}
		case onnxpb.AttributeProto_TENSOR:
			if a.T == nil {
				c.add(ap, "attribute of type TENSOR holds no tensor")
			} else {
				c.tensor(a.T, ap)
			}
		}
		// A subgraph sees the names defined so far in this graph and outward.
		if a.G != nil {
			c.graph(a.G, fmt.Sprintf("%s › graph %q", ap, a.G.GetName()), sc, opsets, false)
		}
		for _, g := range a.GetGraphs() {
			c.graph(g, fmt.Sprintf("%s › graph %q", ap, g.GetName()), sc, opsets, false)
		}
	}
	for _, o := range n.GetOutput() {
		if o == "" {
			continue
		}
		if sc.has(o) {
			c.add(path, "output %q is already defined (each value must be assigned exactly once)", o)
		}
		sc.names[o] = true
	}
}

// tensor checks type and data size against dims without reading external bytes.
func (c *checker) tensor(t *onnxpb.TensorProto, path string) {
	dt := TypeOf(t)
	if dt == Undefined {
		c.add(path, "data_type is not set")
		return
	}
	if !dt.Known() {
		c.add(path, "data_type %d is not an ONNX element type", int32(dt))
		return
	}
	n, err := NumElements(t)
	if err != nil {
		c.add(path, "%v", err)
		return
	}
	if t.GetSegment() != nil {
		return // a segment holds part of the data; sizes cannot be checked alone
	}
	if dt == String {
		if int64(len(t.GetStringData())) != n {
			c.add(path, "STRING%v needs %d values in string_data, found %d", t.GetDims(), n, len(t.GetStringData()))
		}
		return
	}
	want := dt.StorageBytes(n)
	switch {
	case IsExternal(t):
		e, err := ExternalDataOf(t)
		if err != nil {
			c.add(path, "%v", err)
			return
		}
		if err := checkLocation(e.Location); err != nil {
			c.add(path, "%v", err)
		} else if c.dir != "" {
			// Where the model came from a file, also what the location leads to: a symbolic
			// link out of the folder (link.data -> /etc/passwd) or a missing data file.
			if real, err := ResolveLocation(c.dir, e.Location); err != nil {
				c.add(path, "%v", err)
			} else if fi, err := os.Stat(real); err == nil && fi.Mode().IsRegular() && e.Offset+want > fi.Size() {
				c.add(path, "external data %s holds %d bytes, but the tensor reads up to byte %d: the file is truncated or belongs to another model", e.Location, fi.Size(), e.Offset+want)
			}
		}
		if e.Length >= 0 && e.Length != want {
			c.add(path, "external data length %d does not match %v%v (%d bytes)", e.Length, dt, t.GetDims(), want)
		}
	case t.RawData != nil:
		if int64(len(t.RawData)) != want {
			c.add(path, "raw_data holds %d bytes; %v%v needs %d", len(t.RawData), dt, t.GetDims(), want)
		}
	default:
		if _, err := typedToRaw(t, dt, n, want); err != nil && n > 0 {
			c.add(path, "%v", strings.TrimPrefix(err.Error(), fmt.Sprintf("tensor %q: ", t.GetName())))
		}
	}
}

func (c *checker) sparse(s *onnxpb.SparseTensorProto, path string) {
	v, idx := s.GetValues(), s.GetIndices()
	if v == nil || idx == nil {
		c.add(path, "a sparse tensor needs both values and indices")
		return
	}
	if len(s.GetDims()) == 0 {
		c.add(path, "the sparse tensor has no dims")
	}
	if len(v.GetDims()) != 1 {
		c.add(path, "values must be 1-D [NNZ], found dims %v", v.GetDims())
		return
	}
	c.tensor(v, path+" › values")
	c.tensor(idx, path+" › indices")
	if TypeOf(idx) != Int64 {
		c.add(path, "indices must be INT64, found %v", TypeOf(idx))
	}
	nnz, rank := v.GetDims()[0], int64(len(s.GetDims()))
	id := idx.GetDims()
	ok := (len(id) == 1 && id[0] == nnz) || (len(id) == 2 && id[0] == nnz && id[1] == rank)
	if !ok {
		c.add(path, "indices dims %v must be [%d] or [%d, %d]", id, nnz, nnz, rank)
	}
}

func (c *checker) function(f *onnxpb.FunctionProto) {
	path := fmt.Sprintf("function %q", f.GetName())
	sc := &scope{names: map[string]bool{}, producers: map[string]*onnxpb.NodeProto{}}
	for _, n := range f.GetNode() {
		for _, o := range n.GetOutput() {
			sc.producers[o] = n
		}
	}
	for _, in := range f.GetInput() {
		sc.names[in] = true
	}
	opsets := opsetSet(f.GetOpsetImport())
	if len(f.GetOpsetImport()) == 0 {
		opsets = opsetSet(c.mp.GetOpsetImport())
	}
	for _, n := range f.GetNode() {
		c.node(n, path, sc, opsets)
	}
	for _, o := range f.GetOutput() {
		if !sc.has(o) {
			c.add(path, "output %q is not produced by any node of the function", o)
		}
	}
}
