package quant

import (
	"sort"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// Calibrating nodes inside If/Loop/Scan bodies needs their activations,
// which ONNX Runtime cannot return directly: only main-graph values can be
// graph outputs. lifter rewrites a copy of the model so that each wanted body
// tensor leaves its body as an extra output, and its control-flow node as an
// extra output too, up to the main graph:
//   - Loop and Scan: an extra scan output (every iteration's values,
//     stacked; their range is the range over the iterations);
//   - If: an extra output of both branches, the branch that lacks the tensor
//     producing an empty float tensor (If allows branch shapes to differ).

type lifter struct {
	want  map[string]bool
	names names
}

// carried is a value available in some graph that carries a wanted tensor.
type carried struct{ src, orig string }

// lift extends the control-flow nodes of g and returns the values of g that
// carry wanted tensors of nested bodies.
func (l *lifter) lift(g *onnxpb.GraphProto) []carried {
	var exposed []carried
	for _, n := range append([]*onnxpb.NodeProto(nil), g.GetNode()...) {
		if n.GetDomain() != "" && n.GetDomain() != "ai.onnx" {
			continue
		}
		switch n.GetOpType() {
		case "Loop", "Scan":
			body := getAttr(n, "body")
			if body == nil || body.GetG() == nil {
				continue
			}
			for _, c := range l.inBody(body.GetG()) {
				l.emit(body.GetG(), c)
				out := l.names.fresh(c.orig + "_calib")
				n.Output = append(n.Output, out)
				exposed = append(exposed, carried{out, c.orig})
				if n.GetOpType() == "Scan" {
					for _, attr := range []string{"scan_output_axes", "scan_output_directions"} {
						if a := getAttr(n, attr); a != nil {
							a.Ints = append(a.Ints, 0)
						}
					}
				}
			}
		case "If":
			ta, ea := getAttr(n, "then_branch"), getAttr(n, "else_branch")
			if ta == nil || ea == nil || ta.GetG() == nil || ea.GetG() == nil {
				continue
			}
			tg, eg := ta.GetG(), ea.GetG()
			t, e := l.inBody(tg), l.inBody(eg)
			for _, c := range t {
				l.emit(tg, c)
				l.empty(eg)
			}
			for _, c := range e {
				l.empty(tg)
				l.emit(eg, c)
			}
			for _, c := range append(t, e...) {
				out := l.names.fresh(c.orig + "_calib")
				n.Output = append(n.Output, out)
				exposed = append(exposed, carried{out, c.orig})
			}
		}
	}
	return exposed
}

// inBody lists the values of body that carry wanted tensors: its own inputs
// and node outputs, and what its nested bodies surface.
func (l *lifter) inBody(body *onnxpb.GraphProto) []carried {
	out := l.lift(body)
	seen := map[string]bool{}
	for _, vi := range body.GetInput() {
		if n := vi.GetName(); l.want[n] && !seen[n] {
			seen[n] = true
			out = append(out, carried{n, n})
		}
	}
	for _, nd := range body.GetNode() {
		for _, o := range nd.GetOutput() {
			if l.want[o] && !seen[o] {
				seen[o] = true
				out = append(out, carried{o, o})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].orig < out[j].orig })
	return out
}

// emit adds an output of body carrying c (through an Identity, so that the
// output name is new and unique).
func (l *lifter) emit(body *onnxpb.GraphProto, c carried) {
	name := l.names.fresh(c.orig + "_out")
	body.Node = append(body.Node, node("Identity", "", l.names.fresh(name+"_id"), []string{c.src}, []string{name}))
	body.Output = append(body.Output, floatValueInfo(name))
}

// empty adds an output of g holding an empty float tensor.
func (l *lifter) empty(g *onnxpb.GraphProto) {
	name := l.names.fresh("calib_empty")
	t, _ := floatTensor(name+"_value", []int64{0}, nil)
	g.Node = append(g.Node, node("Constant", "", l.names.fresh(name+"_const"), nil, []string{name},
		&onnxpb.AttributeProto{Name: proto.String("value"), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}))
	g.Output = append(g.Output, floatValueInfo(name))
}

func floatValueInfo(name string) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1)}}}}
}
