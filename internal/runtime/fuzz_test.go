package runtime

import (
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// FuzzModelIO feeds arbitrary bytes to the parser that reads a model's
// inputs and outputs before ORT sees it: it must return an error or a
// result, never panic or allocate without bound.
func FuzzModelIO(f *testing.F) {
	f.Add(addModel(f))
	f.Add(buildModel(f, []*onnxpb.NodeProto{node("Identity", []string{"x"}, []string{"y"})},
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Float16, "n", 3)},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float16)}))
	f.Add([]byte{})
	f.Add([]byte{0x3a, 0x02, 0x5a, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := modelIO(b)
		if err != nil {
			return
		}
		for _, ti := range append(info.inputs, info.outputs...) {
			if len(ti.Shape) != len(ti.DimNames) {
				t.Fatalf("%s: %d dims but %d names", ti.Name, len(ti.Shape), len(ti.DimNames))
			}
			for _, d := range ti.Shape {
				if d < -1 {
					t.Fatalf("%s: dimension %d", ti.Name, d)
				}
			}
			_ = describe(ti)
		}
	})
}
