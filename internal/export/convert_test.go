package export

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil"
)

func fmnist(t *testing.T, name string) string {
	t.Helper()
	p := testutil.RepoFile(t, "testdata/fmnist/"+name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s not generated yet: %v", p, err)
	}
	return p
}

func TestConvertMLPAllSteps(t *testing.T) {
	rt := testutil.Runtime(t)
	in := fmnist(t, "mlp.onnx")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.onnx")
	rep, err := Run(context.Background(), rt, Request{
		Input: in, Output: out, Optimize: true, FP16: true, Verify: true, Seed: 7,
		Meta: map[string]string{"owner": "ml"}, FixDims: map[string]string{"batch": "4"},
		ExportWeights: filepath.Join(dir, "w.safetensors"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %+v opt=%+v fp16=%+v dev=%+v", rep, rep.Optimize, rep.FP16, rep.Deviation)
	if *rep.MaxAbsError > 0.05 || *rep.MaxAbsError == 0 {
		t.Fatalf("fp16 deviation %v: want in (0, 0.05]", *rep.MaxAbsError)
	}
	if rep.BytesAfter > rep.BytesBefore*6/10 {
		t.Errorf("fp16 model is %d bytes, input %d: want about half", rep.BytesAfter, rep.BytesBefore)
	}
	m, err := onnx.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := m.Proto.Graph.Input[0].GetType().GetTensorType().GetShape().GetDim()[0].GetDimValue(); got != 4 {
		t.Errorf("batch dim = %d, want 4", got)
	}
	if rep.WeightsExported == 0 {
		t.Error("no weights exported")
	}
}
