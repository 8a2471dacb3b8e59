package quantize

import (
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/optimize/calib"
	"github.com/mlops-dev/mlops/internal/optimize/quant"
)

func parse(t *testing.T, args ...string) (*QuantizeOptions, error) {
	t.Helper()
	io, _, _, _ := cmdutil.Test()
	var got *QuantizeOptions
	cmd := NewCmdQuantize(&cmdutil.Factory{IO: io}, func(o *QuantizeOptions) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	if err := cmd.Execute(); err != nil {
		return nil, err
	}
	return got, nil
}

func TestFlagsToRequest(t *testing.T) {
	o, err := parse(t, "m.onnx", "--mode", "static", "--format", "qoperator", "--calibration-data", "c.npy",
		"--calibration-method", "entropy", "--calibration-bins", "1024", "--per-channel=Conv,Gemm",
		"--weight-type", "uint8", "--activation-type", "int8", "--exclude-nodes", "a,b", "--reduce-range",
		"--symmetric-weights=false", "--calibration-samples", "64", "--input-field", "input=pixels", "--reshape")
	if err != nil {
		t.Fatal(err)
	}
	if o.Output != "m.int8.onnx" {
		t.Errorf("default output = %q", o.Output)
	}
	req, err := o.Request()
	if err != nil {
		t.Fatal(err)
	}
	q := req.Options
	if q.Mode != quant.Static || q.Format != quant.QOperator || q.WeightType != quant.Uint8 || q.ActivationType != quant.Int8 ||
		!q.ReduceRange || q.SymmetricWeights || len(q.PerChannel) != 2 || len(q.ExcludeNodes) != 2 {
		t.Errorf("options = %+v", q)
	}
	if req.CalibrationOpts.Collector.Method != calib.Entropy || req.CalibrationOpts.Collector.Bins != 1024 ||
		req.CalibrationOpts.MaxSamples != 64 || req.Calibration.Limit != 64 || req.Calibration.Path != "c.npy" {
		t.Errorf("calibration = %+v %+v", req.CalibrationOpts, req.Calibration)
	}
	if req.Calibration.InputFields["input"] != "pixels" || !req.Calibration.Preprocess.Reshape || req.Eval.InputFields["input"] != "pixels" {
		t.Errorf("field mapping not passed on: %+v / %+v", req.Calibration, req.Eval)
	}
}

func TestPerChannelAloneMeansAll(t *testing.T) {
	o, err := parse(t, "m.onnx", "out.onnx", "--per-channel")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.PerChannel) != 1 || o.PerChannel[0] != "all" || o.Output != "out.onnx" {
		t.Errorf("per-channel %v output %q", o.PerChannel, o.Output)
	}
}

func TestBadFlagsAreUsageErrors(t *testing.T) {
	cases := [][]string{
		{"m.onnx", "--weight-type", "int4"},
		{"m.onnx", "--mode", "fast"},
		{"m.onnx", "--mode", "static"},
		{"m.onnx", "--calibration-data", "c.npy"},
		{"m.onnx", "--activation-type", "int8"},
		{"m.onnx", "--op-types", "Relu"},
		{"m.onnx", "--mode", "static", "--calibration-data", "c.npy", "--percentile", "20"},
		{"m.onnx", "--eval-labels", "y.npy"},
		{"m.onnx", "--batch-size", "0"},
	}
	for _, args := range cases {
		o, err := parse(t, args...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		_, err = o.Request()
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
}
