package quant

import (
	"fmt"
	"strconv"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// scope is one graph (the main graph or an If/Loop/Scan body) with a link to
// the graph that encloses it, so that names used in a body but defined
// outside resolve the way ONNX resolves them.
type scope struct {
	g        *onnxpb.GraphProto
	parent   *scope
	path     string // "" for the main graph, "node_name/attr" for bodies
	inits    map[string]*onnxpb.TensorProto
	inputs   map[string]bool
	producer map[string]*onnxpb.NodeProto
	// inserted holds nodes to emit right before (pre) and after (post) an
	// existing node when the node list is rebuilt; replace swaps a node.
	pre, post map[*onnxpb.NodeProto][]*onnxpb.NodeProto
	replace   map[*onnxpb.NodeProto][]*onnxpb.NodeProto
	// irBelow4: before IR version 4 every initializer had to be listed as
	// a graph input, and such inputs are constants.
	irBelow4 bool
}

func newScope(g *onnxpb.GraphProto, parent *scope, path string, irBelow4 bool) *scope {
	s := &scope{irBelow4: irBelow4,
		g: g, parent: parent, path: path,
		inits:    map[string]*onnxpb.TensorProto{},
		inputs:   map[string]bool{},
		producer: map[string]*onnxpb.NodeProto{},
		pre:      map[*onnxpb.NodeProto][]*onnxpb.NodeProto{},
		post:     map[*onnxpb.NodeProto][]*onnxpb.NodeProto{},
		replace:  map[*onnxpb.NodeProto][]*onnxpb.NodeProto{},
	}
	for _, t := range g.GetInitializer() {
		s.inits[t.GetName()] = t
	}
	for _, vi := range g.GetInput() {
		s.inputs[vi.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				s.producer[o] = n
			}
		}
	}
	return s
}

// constant is a float tensor whose value is fixed in the model: an
// initializer that is not also a graph input, a Constant node's value, or
// either of those behind a chain of Identity nodes.
type constant struct {
	tensor *onnxpb.TensorProto
	owner  *scope // where the quantized copy is stored
	key    string // identifies the source tensor across scopes
	// transposed: the value is the 2-D transpose of tensor (a Transpose
	// node applied to a constant, as older PyTorch exports write Linear).
	transposed bool
}

// dims are the dimensions of the constant's value.
func (c *constant) dims() []int64 {
	d := c.tensor.GetDims()
	if c.transposed && len(d) == 2 {
		return []int64{d[1], d[0]}
	}
	return d
}

// resolveConst follows name through Identity/Constant nodes, a 2-D
// Transpose, and enclosing scopes. It returns nil when the value is
// computed at run time.
func (s *scope) resolveConst(name string) *constant {
	if n, ok := s.producer[name]; ok && n.GetOpType() == "Transpose" && n.GetDomain() == "" && len(n.GetInput()) == 1 {
		perm := getAttr(n, "perm")
		if perm == nil || (len(perm.GetInts()) == 2 && perm.GetInts()[0] == 1 && perm.GetInts()[1] == 0) {
			if c := s.resolveConstPlain(n.GetInput()[0]); c != nil && len(c.tensor.GetDims()) == 2 {
				c.transposed = true
				c.key += "^T"
				return c
			}
		}
		return nil
	}
	return s.resolveConstPlain(name)
}

func (s *scope) resolveConstPlain(name string) *constant {
	for depth := 0; depth < 64 && s != nil; depth++ {
		if n, ok := s.producer[name]; ok {
			switch {
			case n.GetOpType() == "Identity" && n.GetDomain() == "":
				name = n.GetInput()[0]
				continue
			case n.GetOpType() == "Constant" && n.GetDomain() == "":
				for _, a := range n.GetAttribute() {
					if a.GetName() == "value" && a.GetT() != nil {
						return &constant{tensor: a.GetT(), owner: s, key: fmt.Sprintf("%p", a.GetT())}
					}
				}
			}
			return nil
		}
		if s.inputs[name] && !(s.irBelow4 && s.inits[name] != nil) {
			// A real input, or (IR >= 4) an initializer that is also an input:
			// a default the caller may override, so not a constant.
			return nil
		}
		if t, ok := s.inits[name]; ok {
			return &constant{tensor: t, owner: s, key: fmt.Sprintf("%p", t)}
		}
		s = s.parent
	}
	return nil
}

// addInit adds a new initializer to this scope.
func (s *scope) addInit(t *onnxpb.TensorProto) {
	s.g.Initializer = append(s.g.Initializer, t)
	s.inits[t.GetName()] = t
}

// rebuild applies the recorded insertions and replacements to the node list.
func (s *scope) rebuild() {
	if len(s.pre) == 0 && len(s.post) == 0 && len(s.replace) == 0 {
		return
	}
	out := make([]*onnxpb.NodeProto, 0, len(s.g.Node)*2)
	for _, n := range s.g.Node {
		out = append(out, s.pre[n]...)
		if r, ok := s.replace[n]; ok {
			out = append(out, r...)
		} else {
			out = append(out, n)
		}
		out = append(out, s.post[n]...)
	}
	s.g.Node = out
	s.pre, s.post, s.replace = map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}, map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}, map[*onnxpb.NodeProto][]*onnxpb.NodeProto{}
}

// names hands out tensor and node names unused anywhere in the model.
type names struct{ used map[string]bool }

func collectNames(g *onnxpb.GraphProto, used map[string]bool) {
	for _, t := range g.GetInitializer() {
		used[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		used[v.GetName()] = true
	}
	for _, v := range g.GetOutput() {
		used[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		used[n.GetName()] = true
		for _, o := range n.GetOutput() {
			used[o] = true
		}
		for _, i := range n.GetInput() {
			used[i] = true
		}
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				collectNames(a.GetG(), used)
			}
			for _, sg := range a.GetGraphs() {
				collectNames(sg, used)
			}
		}
	}
}

func (n *names) fresh(base string) string {
	if !n.used[base] {
		n.used[base] = true
		return base
	}
	for i := 1; ; i++ {
		c := base + "_" + strconv.Itoa(i)
		if !n.used[c] {
			n.used[c] = true
			return c
		}
	}
}

// node builds a NodeProto.
func node(op, domain, name string, inputs, outputs []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Domain: proto.String(domain), Name: proto.String(name),
		Input: inputs, Output: outputs, Attribute: attrs}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func getAttr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrIntOr(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := getAttr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

func attrFloatOr(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := getAttr(n, name); a != nil {
		return a.GetF()
	}
	return def
}
