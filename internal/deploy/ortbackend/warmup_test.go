package ortbackend

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// reflectPadPath is a model that, like Silero VAD, reflect-pads its audio
// along a dynamic dimension (testdata/serve/generate.py), so ONNX Runtime
// refuses to run it on a single sample.
const reflectPadPath = "../../../testdata/serve/reflect_pad.onnx"

func addModels(t *testing.T, opts engine.Options, specs ...engine.Spec) (*engine.Engine, []error) {
	t.Helper()
	l := &Loader{Runtime: openRuntime(t), Session: runtime.SessionOptions{IntraOpThreads: 1}}
	opts.Instances, opts.MaxBatchSize, opts.QueueSize = 1, 4, 8
	e := engine.New(l, opts)
	t.Cleanup(e.Close)
	errs := make([]error, len(specs))
	for i, s := range specs {
		errs[i] = e.Add(context.Background(), s)
	}
	return e, errs
}

// Before warm-up searched, this model could not be served at all, and
// serving it next to another model took both down.
func TestReflectPadModelWarmsAndServes(t *testing.T) {
	e, errs := addModels(t, engine.Options{}, engine.Spec{Name: "vad", Ref: reflectPadPath}, engine.Spec{Name: "fmnist", Ref: mlpPath})
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("load: %v", errs)
	}
	resp, _, err := e.Infer(context.Background(), "vad", "", &oip.InferRequest{Inputs: []*oip.Tensor{
		oip.NewFP32("input", []int64{1, 8}, []float32{1, 2, 3, 4, 5, 6, 7, 8}),
		oip.NewFP32("state", []int64{2, 1, 4}, make([]float32, 8)),
	}})
	if err != nil {
		t.Fatal(err)
	}
	// reflect padding by 3: 4 3 2 | 1..8 | 7 6 5, mean 63/14
	if got := resp.Outputs[0].Float32s()[0]; got != 4.5 {
		t.Fatalf("output %v, want 63/14", got)
	}
}

func TestReflectPadModelWarmupOptions(t *testing.T) {
	// The shape the user gives is the only one tried.
	_, errs := addModels(t, engine.Options{Warmup: engine.Warmup{Shapes: map[string][]int64{"input": {1, 2}}}},
		engine.Spec{Name: "vad", Ref: reflectPadPath}, engine.Spec{Name: "fmnist", Ref: mlpPath})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "Pad reflect") || !strings.Contains(errs[0].Error(), "input [1,2]") {
		t.Fatalf("vad with --warmup-shape input=1,2: %v", errs[0])
	}
	if errs[1] != nil {
		t.Fatalf("fmnist: %v", errs[1])
	}
	// The model's own hint, in its metadata_props.
	m, err := onnx.Load(reflectPadPath)
	if err != nil {
		t.Fatal(err)
	}
	m.Proto.MetadataProps = append(m.Proto.MetadataProps, &onnxpb.StringStringEntryProto{
		Key: proto.String(engine.HintKeyPrefix + "input"), Value: proto.String("1,2")})
	hinted := filepath.Join(t.TempDir(), "hinted.onnx")
	if err := m.Save(hinted, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, errs = addModels(t, engine.Options{}, engine.Spec{Name: "vad", Ref: hinted})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "input [1,2]") {
		t.Fatalf("vad with a metadata hint of 1,2: %v", errs[0])
	}
	m.Proto.MetadataProps[len(m.Proto.MetadataProps)-1].Value = proto.String("1,x")
	if err := m.Save(hinted, onnx.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, errs = addModels(t, engine.Options{}, engine.Spec{Name: "vad", Ref: hinted})
	if errs[0] == nil || !strings.Contains(errs[0].Error(), `mlops.warmup_shape.input="1,x"`) {
		t.Fatalf("vad with a malformed hint: %v", errs[0])
	}
	// --no-warmup loads it; a request too short for the padding fails then.
	e, errs := addModels(t, engine.Options{Warmup: engine.Warmup{Disabled: true}}, engine.Spec{Name: "vad", Ref: reflectPadPath})
	if errs[0] != nil {
		t.Fatal(errs[0])
	}
	_, _, err = e.Infer(context.Background(), "vad", "", &oip.InferRequest{Inputs: []*oip.Tensor{
		oip.NewFP32("input", []int64{1, 1}, []float32{1}), oip.NewFP32("state", []int64{2, 1, 4}, make([]float32, 8))}})
	if err == nil || !strings.Contains(err.Error(), "Pad reflect") {
		t.Fatalf("short request under --no-warmup: %v", err)
	}
}
