package convert

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/onnx"
)

func parse(t *testing.T, args ...string) *ConvertOptions {
	t.Helper()
	io, _, _, _ := cmdutil.Test()
	var got *ConvertOptions
	cmd := NewCmdConvert(&cmdutil.Factory{IO: io}, func(o *ConvertOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestFlagsToRequest(t *testing.T) {
	o := parse(t, "m.onnx", "-o", "out.onnx", "--fp16", "--keep-io-types", "--block-nodes", "a,b", "--optimize",
		"--fix-dim", "batch=1", "--meta", "k=v", "--meta", "x=y=z", "--external-data", "--external-threshold", "4096",
		"--opset", "17", "--tolerance", "0.01", "--export-weights", "w.st")
	req, err := o.request()
	if err != nil {
		t.Fatal(err)
	}
	if req.Output != "out.onnx" || !req.FP16 || !req.FP16Options.KeepIOTypes || len(req.FP16Options.BlockNodes) != 2 ||
		!req.Optimize || req.FixDims["batch"] != "1" || req.Meta["x"] != "y=z" || req.Opset != 17 ||
		req.Save.External != onnx.ExternalAlways || req.Save.Threshold != 4096 || !req.Verify || req.Tolerance != 0.01 ||
		req.ExportWeights != "w.st" || req.Framework != nil {
		t.Errorf("request = %+v", req)
	}
	if len(req.FP16Options.BlockOps) == 0 {
		t.Error("default block list lost")
	}
}

func TestPyTorchFlags(t *testing.T) {
	o := parse(t, "model.pt", "-o", "m.onnx", "--input", "x:1x3x8x8", "--input", "ids:1x5:int64",
		"--dynamic-axis", "x:0", "--dynamic-axis", "ids:1", "--model-class", "pkg.mod:Net", "--opset", "13", "--python", "/usr/bin/python3")
	req, err := o.request()
	if err != nil {
		t.Fatal(err)
	}
	fr := req.Framework
	if fr == nil || fr.Framework != "pytorch" || len(fr.Inputs) != 2 || fr.Inputs[1].DType != "int64" ||
		fr.DynamicAxes["ids"][0] != 1 || fr.Opset != 13 || fr.ModelClass != "pkg.mod:Net" || req.Opset != 0 || fr.Tolerance != 1e-4 {
		t.Errorf("framework request = %+v / %+v", fr, req)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"--from":              {"m.onnx", "-o", "o.onnx", "--from", "caffe"},
		"say where":           {"m.onnx"},
		"exclude each other":  {"m.onnx", "-o", "o.onnx", "--inline", "--external-data"},
		"applies to --fp16":   {"m.onnx", "-o", "o.onnx", "--keep-io-types"},
		"KEY=VALUE":           {"m.onnx", "-o", "o.onnx", "--meta", "novalue"},
		"needs --input":       {"m.pt", "-o", "o.onnx"},
		"NAME:AXIS":           {"m.pt", "-o", "o.onnx", "--input", "x:1x2", "--dynamic-axis", "x"},
		"dimension":           {"m.pt", "-o", "o.onnx", "--input", "x:1xa"},
		"applies to exports":  {"m.onnx", "-o", "o.onnx", "--input", "x:1x2"},
		"gates the deviation": {"m.onnx", "-o", "o.onnx", "--tolerance", "0.1"},
	}
	for want, args := range cases {
		o := parse(t, args...)
		_, err := o.request()
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: err = %v, want a usage error mentioning %q", args, err, want)
		}
	}
}

func TestGuessFrom(t *testing.T) {
	for path, want := range map[string]string{"a.pt": "pytorch", "a.PTH": "pytorch", "a.keras": "tensorflow", "a.onnx": "onnx", "model": "onnx"} {
		if got := guessFrom(path); got != want {
			t.Errorf("guessFrom(%s) = %s, want %s", path, got, want)
		}
	}
}
