package root

import (
	"slices"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// cmdEditModel implements `edit-model IN OUT EDIT`: it writes IN with one
// edit applied, to make inputs no generator script needs to commit:
//
//	reverse-nodes    top-level nodes in reverse order. Exporters and hand
//	                 edits write such files; ONNX Runtime sorts the graph
//	                 itself and runs them, so mlops' rewriting commands must
//	                 accept them too.
//	undefined-input  the last node reads a value nothing defines, which the
//	                 ONNX checker (and ONNX Runtime) refuse.
func cmdEditModel(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: edit-model IN OUT reverse-nodes|undefined-input")
	}
	m, err := onnx.Load(ts.MkAbs(args[0]))
	ts.Check(err)
	defer m.Close()
	nodes := m.Proto.GetGraph().GetNode()
	switch args[2] {
	case "reverse-nodes":
		slices.Reverse(nodes)
	case "undefined-input":
		last := nodes[len(nodes)-1]
		last.Input[0] = "no_such_value"
	default:
		ts.Fatalf("edit-model: unknown edit %q", args[2])
	}
	ts.Check(m.Save(ts.MkAbs(args[1]), onnx.SaveOptions{}))
}
