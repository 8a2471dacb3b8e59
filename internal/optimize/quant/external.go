package quant

import (
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// externalFiles lists the external data locations a model refers to.
func externalFiles(m *onnx.Model) []string {
	var out []string
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, t := range g.GetInitializer() {
			if onnx.IsExternal(t) {
				if e, err := onnx.ExternalDataOf(t); err == nil {
					out = append(out, e.Location)
				}
			}
		}
		for _, n := range g.GetNode() {
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					walk(a.GetG())
				}
				for _, sg := range a.GetGraphs() {
					walk(sg)
				}
			}
		}
	}
	walk(m.Proto.GetGraph())
	return out
}
