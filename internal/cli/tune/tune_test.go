package tune

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	coretune "github.com/mlops-dev/mlops/internal/tune"
)

func TestRunFlags(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: ios}
	var got *RunOptions
	cmd := NewCmdRun(f, func(o *RunOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"s.yaml", "--worker", "--trials", "50", "--time", "1h", "--sampler", "random", "--seed", "9", "--storage", "s3://b/s.jsonl"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.StudyFile != "s.yaml" || !got.Worker || got.Trials != 50 || got.Time != time.Hour {
		t.Fatalf("%+v", got)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.yaml"), []byte(`version: 1
study: s
objectives: [{metric: y, direction: minimize}]
parameters: {x: {type: float, low: 0, high: 1}}
sampler: {name: tpe, seed: 1}
budget: {trials: 10}
trial: {command: [echo, "${x}"]}
`), 0o644)
	spec, err := coretune.LoadSpec(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := got.applyFlags(spec); err != nil {
		t.Fatal(err)
	}
	if spec.Budget.Trials != 50 || spec.Budget.Time != time.Hour || spec.Sampler.Name != "random" || spec.Sampler.Seed != 9 || spec.Storage != "s3://b/s.jsonl" {
		t.Fatalf("%+v", spec)
	}
	bad := NewCmdRun(f, func(o *RunOptions) error { return o.applyFlags(spec) })
	bad.SetArgs([]string{"s.yaml", "--pruner", "hyperband"})
	if err := bad.Execute(); err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("bad --pruner: %v", err)
	}
}
