package runtime

import (
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// openRuntime loads the ONNX Runtime library the way mlops finds it from a
// checkout (the project-local install). With MLOPS_REQUIRE_ORT=1, which
// `make test` sets, a missing library fails the test instead of skipping it.
func openRuntime(t testing.TB) *Runtime {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	path, _, err := Locate(LocateOptions{WorkDir: wd})
	if err != nil {
		if os.Getenv("MLOPS_REQUIRE_ORT") == "1" {
			t.Fatalf("MLOPS_REQUIRE_ORT=1 but: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	r, err := Open(Config{LibraryPath: path})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// valueInfo declares a tensor; dims are int (fixed) or string (symbolic).
// A nil dims slice (no arguments and scalar false) leaves the shape out.
func valueInfo(name string, dt onnx.DataType, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		switch v := d.(type) {
		case int:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{
				Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(v)}})
		case string:
			shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{
				Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: v}})
		}
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(dt)), Shape: shape}}},
	}
}

func node(op string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Input: in, Output: out, Attribute: attrs}
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func floatInit(name string, dims []int64, v []float32) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnx.Float)), FloatData: v}
}

// buildModel serialises a one-graph model at opset 17.
func buildModel(t testing.TB, nodes []*onnxpb.NodeProto, inputs, outputs []*onnxpb.ValueInfoProto, inits ...*onnxpb.TensorProto) []byte {
	t.Helper()
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{Name: proto.String("test"), Node: nodes, Input: inputs, Output: outputs,
			Initializer: inits},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
