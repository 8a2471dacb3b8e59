package challenger

import (
	"context"
	"math"
	"testing"

	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestPushMovesAliasesOnlyWhenTheGatesHold pushes a challenger twice: a
// failed gate pushes the version and holds the alias, a passing one moves it.
func TestPushMovesAliasesOnlyWhenTheGatesHold(t *testing.T) {
	ctx := context.Background()
	reg, err := registry.Open(ctx, "mem://", registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	model := testutil.RepoFile(t, "testdata/fmnist/mlp.onnx")
	if _, err := reg.Push(ctx, model, "m", registry.PushOptions{Aliases: []string{"production"}}); err != nil {
		t.Fatal(err)
	}
	failed := &eval.Report{Metrics: map[string]eval.Num{"accuracy": 0.8, "log_loss": eval.Num(math.NaN())},
		Gates: []eval.GateResult{{Gate: "accuracy>=champion+0.1", Metric: "accuracy", Passed: false}}}
	res, err := Push(ctx, reg, Request{Model: model, Name: "m", Aliases: []string{"production"}, Evaluation: failed,
		Metrics: map[string]float64{"val_loss": 0.3, "accuracy": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || res.Promoted || len(res.Aliases) != 0 || len(res.Held) != 1 {
		t.Fatalf("failed gate: %+v", res)
	}
	if got := FailedGates(failed); len(got) != 1 || got[0] != "accuracy>=champion+0.1" {
		t.Fatalf("FailedGates = %v", got)
	}
	if st, err := reg.Alias(ctx, "m", "production"); err != nil || st.Version != 1 {
		t.Fatalf("production after a failed gate: %+v, %v", st, err)
	}
	m, err := reg.Resolve(ctx, registry.Ref{Name: "m", Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	// The evaluation's accuracy wins over the trial's; NaN is left out.
	if m.Metrics["accuracy"] != 0.8 || m.Metrics["val_loss"] != 0.3 {
		t.Fatalf("metrics %v", m.Metrics)
	}
	if _, ok := m.Metrics["log_loss"]; ok {
		t.Fatalf("NaN recorded: %v", m.Metrics)
	}
	passed := &eval.Report{Gates: []eval.GateResult{{Gate: "accuracy>=champion", Passed: true}}}
	res, err = Push(ctx, reg, Request{Model: model, Name: "m", Aliases: []string{"production"}, Evaluation: passed})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 3 || !res.Promoted || len(res.Aliases) != 1 {
		t.Fatalf("passing gate: %+v", res)
	}
	if st, err := reg.Alias(ctx, "m", "production"); err != nil || st.Version != 3 {
		t.Fatalf("production after a passing gate: %+v, %v", st, err)
	}
}
