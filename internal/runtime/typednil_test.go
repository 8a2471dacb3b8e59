package runtime

import (
	"context"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// A float16 output whose size is only known after the run cannot be
// preallocated (onnxruntime_go reads half-precision outputs back wrongly
// otherwise). Run must return that error and clean up the input values it
// had already built without panicking.
func TestRunFailedPreallocationReturnsError(t *testing.T) {
	rt := openRuntime(t)
	model := buildModel(t,
		[]*onnxpb.NodeProto{node("Cast", []string{"x"}, []string{"y"}, intAttr("to", int64(onnx.Float16)))},
		[]*onnxpb.ValueInfoProto{valueInfo("x", onnx.Double, "n")},
		[]*onnxpb.ValueInfoProto{valueInfo("y", onnx.Float16, "m")})
	sess, err := rt.NewSession(model, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Run panicked: %v", r)
		}
	}()
	_, err = sess.Run(context.Background(), map[string]*Tensor{"x": NewTensorFloat64([]int64{4}, make([]float64, 4))}, nil)
	if err == nil {
		t.Fatal("Run of a float16 output of unknown size succeeded; want the preallocation error")
	}
	t.Logf("Run: %v", err)
}
