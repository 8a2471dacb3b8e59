package export

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// debianPython is the interpreter with python3-torch; the python3 first on
// PATH on our machines may lack it.
const debianPython = "/usr/bin/python3"

func needTorch(t *testing.T) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is None)").Run(); err != nil {
		t.Skipf("%s cannot import torch (scripts/setup-debian.sh installs python3-torch): %v", debianPython, err)
	}
}

func TestExportPyTorch(t *testing.T) {
	needTorch(t)
	rt := testutil.Runtime(t)
	cases := []struct {
		name, model, class string
		inputs             []string
		dyn                map[string][]int
	}{
		{name: "torchscript MLP", model: "mlp.ts.pt", inputs: []string{"x:2x16"}, dyn: map[string][]int{"x": {0}}},
		{name: "state dict CNN with BatchNorm", model: "cnn.state.pt", class: "convmodels:CNN", inputs: []string{"x:2x1x8x8"}},
		{name: "pickled module, dynamic batch and sequence", model: "seq.pt", inputs: []string{"ids:2x5:int64"}, dyn: map[string][]int{"ids": {0, 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var specs []InputSpec
			for _, s := range c.inputs {
				sp, err := ParseInputSpec(s)
				if err != nil {
					t.Fatal(err)
				}
				specs = append(specs, sp)
			}
			out := filepath.Join(t.TempDir(), "m.onnx")
			rep, err := Run(context.Background(), rt, Request{
				Input: testutil.RepoFile(t, "testdata/convert/"+c.model), Output: out,
				Framework: &FrameworkRequest{Framework: "pytorch", Python: debianPython, ModelClass: c.class,
					Inputs: specs, DynamicAxes: c.dyn, Opset: 13, Seed: 1, Tolerance: 1e-4},
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Parity == nil || !rep.Parity.Passed || len(rep.Parity.Outputs) == 0 {
				t.Fatalf("parity: %+v", rep.Parity)
			}
			t.Logf("%s: parity %+v", c.name, rep.Parity.Outputs)
			m, err := onnx.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if v, _ := onnx.OpsetVersion(m.Proto, ""); v != 13 {
				t.Errorf("opset %d, want 13", v)
			}
			for name, axes := range c.dyn {
				for _, in := range m.Proto.Graph.Input {
					if in.GetName() != name {
						continue
					}
					for _, ax := range axes {
						if d := in.GetType().GetTensorType().GetShape().GetDim()[ax]; d.GetDimParam() == "" {
							t.Errorf("input %s axis %d is not dynamic: %v", name, ax, d)
						}
					}
				}
			}
		})
	}
}

func TestExportPyTorchParityFailureWritesNothing(t *testing.T) {
	needTorch(t)
	rt := testutil.Runtime(t)
	out := filepath.Join(t.TempDir(), "m.onnx")
	spec, _ := ParseInputSpec("x:2x1x8x8")
	// A tolerance of zero-ish cannot be met by float32 reordering in ORT.
	_, err := Run(context.Background(), rt, Request{
		Input: testutil.RepoFile(t, "testdata/convert/cnn.state.pt"), Output: out,
		Framework: &FrameworkRequest{Framework: "pytorch", Python: debianPython, ModelClass: "convmodels:CNN",
			Inputs: []InputSpec{spec}, Seed: 1, Tolerance: 1e-12},
	})
	if !errors.Is(err, ErrParity) {
		t.Fatalf("err = %v, want ErrParity", err)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Errorf("output exists after a failed parity check")
	}
}

func TestExportFrameworkErrors(t *testing.T) {
	rt := testutil.Runtime(t)
	spec, _ := ParseInputSpec("x:1x16")
	dir := t.TempDir()
	// A Python without torch: a venv-less fake interpreter that fails the import.
	fake := filepath.Join(dir, "python")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexec /usr/bin/python3 -S -I -c 'import sys; sys.path=[p for p in sys.path if \"dist-packages\" not in p]; sys.argv=sys.argv[1:]; exec(open(sys.argv[0]).read())' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Run(context.Background(), rt, Request{Input: testutil.RepoFile(t, "testdata/convert/mlp.ts.pt"), Output: filepath.Join(dir, "o.onnx"),
		Framework: &FrameworkRequest{Framework: "pytorch", Python: fake, Inputs: []InputSpec{spec}, Tolerance: 1e-4}})
	if err == nil || !strings.Contains(err.Error(), "torch must be importable") {
		t.Fatalf("missing torch: %v", err)
	}
	_, err = Run(context.Background(), rt, Request{Input: testutil.RepoFile(t, "testdata/convert/mlp.ts.pt"), Output: filepath.Join(dir, "o.onnx"),
		Framework: &FrameworkRequest{Framework: "tensorflow", Python: fake, Inputs: []InputSpec{spec}, Tolerance: 1e-4}})
	if err == nil || !strings.Contains(err.Error(), "tf2onnx must be importable") {
		t.Fatalf("missing tf2onnx: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "o.onnx")); !os.IsNotExist(err) {
		t.Error("output written after a failed export")
	}
	for _, bad := range []string{"x", "x:0x3", "x:2x3:complex", ":2"} {
		if _, err := ParseInputSpec(bad); err == nil {
			t.Errorf("ParseInputSpec(%q) accepted", bad)
		}
	}
}
