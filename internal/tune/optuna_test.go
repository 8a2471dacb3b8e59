package tune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mlops-dev/mlops/internal/testutil"
)

// optunaPython returns Debian's python3 when it can import optuna; the test fails instead of
// skipping under MLOPS_REQUIRE_OPTUNA=1 (make test installs python3-optuna).
func optunaPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import optuna").Run(); err != nil {
		if os.Getenv("MLOPS_REQUIRE_OPTUNA") == "1" {
			t.Fatalf("MLOPS_REQUIRE_OPTUNA=1 but %s cannot import optuna: %v (apt-get install python3-optuna)", py, err)
		}
		t.Skipf("no python3-optuna: %v", err)
	}
	return py
}

// TestExportLoadsInOptuna: a study with every parameter kind, a conditional one, and
// complete, pruned and failed trials is exported; Debian's Optuna 3.1 JournalStorage loads
// it and finds the same best trial, value and parameters.
func TestExportLoadsInOptuna(t *testing.T) {
	py := optunaPython(t)
	spec, err := ParseSpec([]byte(`version: 1
study: export-check
objectives: [{metric: loss, direction: minimize}]
parameters:
  lr: {type: float, low: 1.0e-5, high: 0.1, log: true}
  layers: {type: int, low: 1, high: 4}
  width: {type: int, low: 16, high: 256, log: true}
  drop: {type: float, low: 0, high: 0.5, step: 0.05}
  opt: {type: categorical, choices: [sgd, adam]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {opt: sgd}}
sampler: {name: tpe, seed: 3}
budget: {trials: 30}
trial:
  command: [x, "${lr}", "${layers}", "${width}", "${drop}", "${opt}", "--m=${momentum}"]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	obj := ObjectiveFunc(func(ctx context.Context, tr *TrialRun) (Result, error) {
		p := tr.Params
		loss := math.Abs(math.Log10(p["lr"].(float64))+3) + p["layers"].(float64)*0.1 + p["drop"].(float64)
		if p["opt"] == "sgd" {
			loss += math.Abs(p["momentum"].(float64) - 0.9)
		}
		switch tr.Number % 7 {
		case 3:
			return Result{Output: "boom"}, errors.New("exited with status 1")
		case 5:
			tr.Report(ctx, 1, loss+1)
			return Result{}, fmt.Errorf("%w at step 1", ErrPruned)
		}
		tr.Report(ctx, 1, loss+0.5)
		return Result{Metrics: map[string]float64{"loss": loss, "acc": 1 - loss/10}}, nil
	})
	if _, err := run(t, spec, obj, RunOptions{MaxFailures: 10}); err != nil {
		t.Fatal(err)
	}
	st := trials(t, spec)
	data, skipped, err := ExportOptunaJournal(st)
	if err != nil || skipped != 0 {
		t.Fatalf("%v, %d skipped", err, skipped)
	}
	path := filepath.Join(t.TempDir(), "optuna.log")
	os.WriteFile(path, data, 0o644)
	out, err := exec.Command(py, testutil.RepoFile(t, "internal/tune/testdata/load_optuna_journal.py"), path, "export-check").CombinedOutput()
	if err != nil {
		t.Fatalf("optuna: %v\n%s", err, out)
	}
	var got struct {
		Directions     []string
		NTrials        int `json:"n_trials"`
		States         []string
		Intermediate   map[string]map[string]float64
		BestValue      float64        `json:"best_value"`
		BestParams     map[string]any `json:"best_params"`
		BestMlopsTrial int            `json:"best_mlops_trial"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	best := st.Best()
	if got.NTrials != len(st.Trials) || !slices.Equal(got.States, []string{"COMPLETE", "FAIL", "PRUNED"}) || got.Directions[0] != "MINIMIZE" {
		t.Fatalf("optuna sees %+v", got)
	}
	if got.BestMlopsTrial != best.Number || got.BestValue != best.Values[0] {
		t.Fatalf("optuna's best: trial %d value %v; mlops': trial %d value %v", got.BestMlopsTrial, got.BestValue, best.Number, best.Values[0])
	}
	for k, v := range best.Params {
		if fmt.Sprint(got.BestParams[k]) != fmt.Sprint(v) {
			t.Errorf("param %s: optuna %v, mlops %v", k, got.BestParams[k], v)
		}
	}
	if len(got.BestParams) != len(best.Params) {
		t.Errorf("optuna params %v, mlops %v", got.BestParams, best.Params)
	}
	if got.Intermediate["5"]["1"] == 0 {
		t.Errorf("pruned trial 5's intermediate value lost: %v", got.Intermediate)
	}
}
