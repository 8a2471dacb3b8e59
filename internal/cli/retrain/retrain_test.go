package retrain

import (
	"strings"
	"testing"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
)

func TestFlagsReachOptions(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	var got *RetrainOptions
	cmd := NewCmdRetrain(&cmdutil.Factory{IO: io}, func(o *RetrainOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"m.onnx", "--data", "x.npy", "--labels", "y.npy", "-o", "out.onnx", "--epochs", "3",
		"--batch-size", "16", "--lr", "0.01", "--optimizer", "adamw", "--weight-decay", "0.1", "--lr-schedule", "cosine",
		"--warmup", "5", "--loss", "cross_entropy", "--label-smoothing", "0.1", "--early-stopping", "2", "--seed", "9",
		"--val-data", "vx.npy", "--val-labels", "vy.npy", "--trainable", "head", "--teacher", "t.onnx", "--alpha", "1",
		"--temperature", "2", "--reinit", "--update-bn-stats", "--checkpoint-dir", "ck", "--resume",
		"--push", "fmnist", "--alias", "production", "--champion", "fmnist@production", "--promote-if", "accuracy>=champion+0.002"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	h := got.Hyper
	if got.Model != "m.onnx" || got.Output != "out.onnx" || h.Epochs != 3 || h.BatchSize != 16 || h.LR != 0.01 ||
		h.Optimizer != "adamw" || h.WeightDecay != 0.1 || h.LRSchedule != "cosine" || h.Warmup != 5 || h.LabelSmoothing != 0.1 ||
		h.EarlyStopping != 2 || h.Seed != 9 || h.Alpha != 1 || h.Temperature != 2 || got.ValData != "vx.npy" ||
		got.Trainable != "head" || got.Teacher != "t.onnx" || !got.Reinit || !got.UpdateBNStats || got.CheckpointDir != "ck" ||
		!got.Resume || got.Push != "fmnist" || got.Aliases[0] != "production" || got.Champion != "fmnist@production" || len(got.PromoteIf) != 1 {
		t.Fatalf("options %+v", got)
	}
	req, err := got.request()
	if err != nil {
		t.Fatal(err)
	}
	if req.Val == nil || req.Val.Path != "vx.npy" || req.Train.BatchSize != 1024 || len(req.Gates) != 1 || req.Gates[0].Ref != "champion" {
		t.Fatalf("request %+v", req)
	}
}

func TestUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"give the output path with -o":          {"m.onnx", "--data", "x.npy"},
		"--data is required":                    {"m.onnx", "-o", "o.onnx"},
		"--optimizer \"rmsprop\" is not one of": {"m.onnx", "--data", "x.npy", "-o", "o.onnx", "--optimizer", "rmsprop"},
		"--val-labels needs --val-data":         {"m.onnx", "--data", "x.npy", "-o", "o.onnx", "--val-labels", "y.npy"},
		"--alias needs --push NAME":             {"m.onnx", "--data", "x.npy", "-o", "o.onnx", "--alias", "production"},
		"--promote-if compares with a champion": {"m.onnx", "--data", "x.npy", "-o", "o.onnx", "--push", "n", "--promote-if", "accuracy>=0.9"},
		"--champion is compared on validation":  {"m.onnx", "--data", "x.npy", "-o", "o.onnx", "--push", "n", "--champion", "n@production"},
		"after 'champion' write +N or -N":       {"m.onnx", "--data", "x.npy", "-o", "o.onnx", "--val-split", "0.1", "--push", "n", "--champion", "n@p", "--promote-if", "accuracy>=champion*2"},
	}
	for want, args := range cases {
		io, _, _, _ := cmdutil.Test()
		var got *RetrainOptions
		cmd := NewCmdRetrain(&cmdutil.Factory{IO: io}, func(o *RetrainOptions) error { got = o; return nil })
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		_, err := got.request()
		if err == nil || !strings.Contains(err.Error(), want) || !cmdutil.IsUsageError(err) {
			t.Errorf("%v: want a usage error containing %q, got %v", args, want, err)
		}
	}
}
