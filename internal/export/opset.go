package export

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// OpsetReport says what --opset changed.
type OpsetReport struct {
	From      int64          `json:"from"`
	To        int64          `json:"to"`
	Rewritten map[string]int `json:"rewritten"` // op type -> nodes rewritten
}

// MaxOpset is the newest default-domain opset the upgrade knows.
const MaxOpset = 21

// upgrader rewrites the nodes of one graph; consts collects the
// initializers the rewrites need.
type upgrader struct {
	from, to int64
	names    map[string]bool
	rep      *OpsetReport
}

func (u *upgrader) unique(base string) string {
	name := base
	for i := 1; u.names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	u.names[name] = true
	return name
}

// crosses reports whether the upgrade passes version v of an operator.
func (u *upgrader) crosses(v int64) bool { return u.from < v && u.to >= v }

// upgradeOpset moves the default-domain opset of m to `to`, rewriting the
// operators whose signature changed on the way. Downgrades are refused
// unless they are no-ops; operators we cannot convert are all listed.
func upgradeOpset(m *onnx.Model, to int64) (*OpsetReport, error) {
	from, ok := onnx.OpsetVersion(m.Proto, "")
	if !ok {
		return nil, fmt.Errorf("--opset: the model imports no default-domain opset")
	}
	rep := &OpsetReport{From: from, To: to, Rewritten: map[string]int{}}
	if to == from {
		return rep, nil
	}
	if to < from {
		return nil, fmt.Errorf("--opset %d: the model uses opset %d and downgrades are not supported; keep --opset %d or higher", to, from, from)
	}
	if to > MaxOpset {
		return nil, fmt.Errorf("--opset %d: mlops converts up to opset %d", to, MaxOpset)
	}
	if from < 7 {
		return nil, fmt.Errorf("--opset: the model uses opset %d; mlops upgrades from opset 7 on", from)
	}
	u := &upgrader{from: from, to: to, names: map[string]bool{}, rep: rep}
	collectNames(m.Proto.Graph, u.names)
	var problems []string
	if err := u.graph(m.Proto.Graph, &problems); err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("--opset %d: cannot convert from opset %d:\n  %s", to, from, strings.Join(slices.Compact(problems), "\n  "))
	}
	for _, o := range m.Proto.OpsetImport {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			o.Version = ptr(to)
		}
	}
	if ir := minIRVersion(to); m.Proto.GetIrVersion() < ir {
		m.Proto.IrVersion = ptr(ir)
	}
	return rep, nil
}

func minIRVersion(opset int64) int64 {
	switch {
	case opset >= 21:
		return 10
	case opset >= 19:
		return 9
	case opset >= 15:
		return 8
	case opset >= 13:
		return 7
	case opset >= 12:
		return 7
	case opset >= 11:
		return 6
	case opset >= 10:
		return 5
	}
	return 3
}

func collectNames(g *onnxpb.GraphProto, names map[string]bool) {
	for _, vi := range append(append(append([]*onnxpb.ValueInfoProto{}, g.Input...), g.Output...), g.ValueInfo...) {
		names[vi.GetName()] = true
	}
	for _, t := range g.Initializer {
		names[t.GetName()] = true
	}
	for _, n := range g.Node {
		names[n.GetName()] = true
		for _, o := range n.Output {
			names[o] = true
		}
		for _, a := range n.Attribute {
			if a.G != nil {
				collectNames(a.G, names)
			}
			for _, sg := range a.Graphs {
				collectNames(sg, names)
			}
		}
	}
}

func (u *upgrader) graph(g *onnxpb.GraphProto, problems *[]string) error {
	var out []*onnxpb.NodeProto
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			if a.G != nil {
				if err := u.graph(a.G, problems); err != nil {
					return err
				}
			}
			for _, sg := range a.Graphs {
				if err := u.graph(sg, problems); err != nil {
					return err
				}
			}
		}
		if !isDefaultDomain(n) {
			out = append(out, n)
			continue
		}
		orig := proto.Clone(n)
		repl, err := u.node(g, n)
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("%s (%s): %v", n.GetOpType(), onnx.NodeLabel(n), err))
			out = append(out, n)
			continue
		}
		if len(repl) != 1 || !proto.Equal(repl[0], orig) {
			u.rep.Rewritten[orig.(*onnxpb.NodeProto).GetOpType()]++
		}
		out = append(out, repl...)
	}
	g.Node = out
	return nil
}

// takeAttr removes attribute name from n and returns it (nil if absent).
func takeAttr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for i, a := range n.Attribute {
		if a.GetName() == name {
			n.Attribute = slices.Delete(n.Attribute, i, i+1)
			return a
		}
	}
	return nil
}

func (u *upgrader) intsConst(g *onnxpb.GraphProto, base string, v []int64) (string, error) {
	name := u.unique(base)
	t := &onnxpb.TensorProto{Name: ptr(name)}
	if err := onnx.SetValues(t, []int64{int64(len(v))}, v); err != nil {
		return "", err
	}
	g.Initializer = append(g.Initializer, t)
	return name, nil
}

func (u *upgrader) floatConst(g *onnxpb.GraphProto, base string, dims []int64, v []float32) (string, error) {
	name := u.unique(base)
	t := &onnxpb.TensorProto{Name: ptr(name)}
	if err := onnx.SetValues(t, dims, v); err != nil {
		return "", err
	}
	g.Initializer = append(g.Initializer, t)
	return name, nil
}

// attrToInput moves an INTS attribute to input position pos (inputs in
// between padded with ""), as opsets 10-18 did for many operators.
func (u *upgrader) attrToInput(g *onnxpb.GraphProto, n *onnxpb.NodeProto, attr string, pos int) error {
	a := takeAttr(n, attr)
	if a == nil {
		return nil
	}
	c, err := u.intsConst(g, n.GetName()+"_"+attr, a.Ints)
	if err != nil {
		return err
	}
	for len(n.Input) < pos {
		n.Input = append(n.Input, "")
	}
	n.Input = append(n.Input[:pos], c)
	return nil
}

func (u *upgrader) node(g *onnxpb.GraphProto, n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	keep := []*onnxpb.NodeProto{n}
	switch n.GetOpType() {
	case "Clip":
		if u.crosses(11) {
			mn, mx := takeAttr(n, "min"), takeAttr(n, "max")
			n.Input = n.Input[:1]
			for i, a := range []*onnxpb.AttributeProto{mn, mx} {
				if a == nil {
					continue
				}
				c, err := u.floatConst(g, n.GetName()+[]string{"_min", "_max"}[i], nil, []float32{a.GetF()})
				if err != nil {
					return nil, err
				}
				for len(n.Input) < i+1 {
					n.Input = append(n.Input, "")
				}
				n.Input = append(n.Input, c)
			}
		}
	case "Pad":
		if u.crosses(11) {
			pads := takeAttr(n, "pads")
			val := takeAttr(n, "value")
			if pads == nil {
				return nil, fmt.Errorf("no pads attribute")
			}
			c, err := u.intsConst(g, n.GetName()+"_pads", pads.Ints)
			if err != nil {
				return nil, err
			}
			n.Input = []string{n.Input[0], c}
			if val != nil && val.GetF() != 0 {
				v, err := u.floatConst(g, n.GetName()+"_value", nil, []float32{val.GetF()})
				if err != nil {
					return nil, err
				}
				n.Input = append(n.Input, v)
			}
		}
	case "Slice":
		if u.crosses(10) {
			starts, ends, axes := takeAttr(n, "starts"), takeAttr(n, "ends"), takeAttr(n, "axes")
			if starts == nil || ends == nil {
				return nil, fmt.Errorf("no starts/ends attributes")
			}
			s, err := u.intsConst(g, n.GetName()+"_starts", starts.Ints)
			if err != nil {
				return nil, err
			}
			e, err := u.intsConst(g, n.GetName()+"_ends", ends.Ints)
			if err != nil {
				return nil, err
			}
			n.Input = []string{n.Input[0], s, e}
			if axes != nil {
				a, err := u.intsConst(g, n.GetName()+"_axes", axes.Ints)
				if err != nil {
					return nil, err
				}
				n.Input = append(n.Input, a)
			}
		}
	case "TopK":
		if u.crosses(10) {
			k := takeAttr(n, "k")
			if k == nil {
				return nil, fmt.Errorf("no k attribute")
			}
			c, err := u.intsConst(g, n.GetName()+"_k", []int64{k.GetI()})
			if err != nil {
				return nil, err
			}
			n.Input = []string{n.Input[0], c}
		}
	case "Squeeze", "Unsqueeze":
		if u.crosses(13) {
			return keep, u.attrToInput(g, n, "axes", 1)
		}
	case "ReduceSum":
		if u.crosses(13) {
			return keep, u.attrToInput(g, n, "axes", 1)
		}
	case "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare":
		if u.crosses(18) {
			return keep, u.attrToInput(g, n, "axes", 1)
		}
	case "Split":
		if u.crosses(13) {
			if err := u.attrToInput(g, n, "split", 1); err != nil {
				return nil, err
			}
		}
	case "Dropout":
		if u.crosses(12) {
			if r := takeAttr(n, "ratio"); r != nil {
				c, err := u.floatConst(g, n.GetName()+"_ratio", nil, []float32{r.GetF()})
				if err != nil {
					return nil, err
				}
				n.Input = append(n.Input[:1], c)
			}
		}
		takeAttr(n, "is_test")
	case "BatchNormalization":
		if u.crosses(9) {
			takeAttr(n, "spatial")
		}
		takeAttr(n, "is_test")
		if u.crosses(14) && len(n.Output) > 1 {
			if slices.ContainsFunc(n.Output[1:], func(s string) bool { return s != "" }) {
				return nil, fmt.Errorf("training-mode outputs (running mean/var) are not kept after opset 14")
			}
			n.Output = n.Output[:1]
		}
	case "Scatter":
		if u.crosses(11) {
			n.OpType = ptr("ScatterElements")
			return []*onnxpb.NodeProto{n}, nil
		}
	case "Upsample":
		if u.crosses(10) {
			return u.upsample(g, n)
		}
	case "Resize":
		if u.from == 10 && u.to >= 11 {
			mode := onnx.AttrString(n, "mode", "nearest")
			u.setResizeModes(n, mode)
			roi, err := u.floatConst(g, n.GetName()+"_roi", []int64{0}, nil)
			if err != nil {
				return nil, err
			}
			n.Input = []string{n.Input[0], roi, n.Input[1]}
		}
	case "Softmax", "LogSoftmax", "Hardmax":
		if u.crosses(13) {
			return u.softmax(n)
		}
	case "Scan":
		if u.from < 9 {
			return nil, fmt.Errorf("Scan-8 has a batch axis that Scan-9 dropped")
		}
	case "ImageScaler", "Crop", "Affine", "ParametricSoftplus", "ScaledTanh", "ThresholdedRelu_1", "GivenTensorFill", "Scale", "MeanVarianceNormalization_1":
		return nil, fmt.Errorf("experimental operator removed from the standard")
	}
	return keep, nil
}

func (u *upgrader) setResizeModes(n *onnxpb.NodeProto, mode string) {
	// Upsample and Resize-10 map output pixel x to input x/scale
	// (asymmetric) and pick the floor for nearest.
	set := func(name, v string) {
		takeAttr(n, name)
		n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: ptr(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)})
	}
	set("mode", mode)
	set("coordinate_transformation_mode", "asymmetric")
	if mode == "nearest" {
		set("nearest_mode", "floor")
	}
}

func (u *upgrader) upsample(g *onnxpb.GraphProto, n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	mode := onnx.AttrString(n, "mode", "nearest")
	if mode == "bilinear" {
		mode = "linear"
	}
	scales := ""
	if a := takeAttr(n, "scales"); a != nil {
		c, err := u.floatConst(g, n.GetName()+"_scales", []int64{int64(len(a.Floats))}, a.Floats)
		if err != nil {
			return nil, err
		}
		scales = c
	} else if len(n.Input) > 1 {
		scales = n.Input[1]
	} else {
		return nil, fmt.Errorf("no scales")
	}
	n.OpType = ptr("Resize")
	n.Attribute = nil
	inputs := []string{n.Input[0], scales}
	if u.to >= 11 {
		roi, err := u.floatConst(g, n.GetName()+"_roi", []int64{0}, nil)
		if err != nil {
			return nil, err
		}
		inputs = []string{n.Input[0], roi, scales}
		u.setResizeModes(n, mode)
	} else {
		n.Attribute = []*onnxpb.AttributeProto{{Name: ptr("mode"), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(mode)}}
	}
	n.Input = inputs
	return []*onnxpb.NodeProto{n}, nil
}

// softmax keeps the opset<13 meaning (the input coerced to 2-D at axis)
// with the opset-13 single-axis operator: Flatten, op on the last axis,
// Reshape back to the input's shape.
func (u *upgrader) softmax(n *onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	axis := onnx.AttrInt(n, "axis", 1)
	x, y := n.Input[0], n.Output[0]
	shape, flat, inner := u.unique(y+"_shape"), u.unique(y+"_flat"), u.unique(y+"_2d")
	intAttr := func(name string, v int64) []*onnxpb.AttributeProto {
		return []*onnxpb.AttributeProto{{Name: ptr(name), Type: onnxpb.AttributeProto_INT.Enum(), I: ptr(v)}}
	}
	base := n.GetName()
	return []*onnxpb.NodeProto{
		{Name: ptr(u.unique(base + "_shape")), OpType: ptr("Shape"), Input: []string{x}, Output: []string{shape}},
		{Name: ptr(u.unique(base + "_flatten")), OpType: ptr("Flatten"), Input: []string{x}, Output: []string{flat}, Attribute: intAttr("axis", axis)},
		{Name: n.Name, OpType: n.OpType, Input: []string{flat}, Output: []string{inner}, Attribute: intAttr("axis", -1)},
		{Name: ptr(u.unique(base + "_reshape")), OpType: ptr("Reshape"), Input: []string{inner, shape}, Output: []string{y}},
	}, nil
}
