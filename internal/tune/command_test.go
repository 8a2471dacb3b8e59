package tune

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// shellSpec is a study whose trial runs a shell script with the parameters.
func shellSpec(t *testing.T, script string, extra string) *Spec {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "trial.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	spec, err := ParseSpec([]byte(`version: 1
study: sh
objectives: [{metric: loss, direction: minimize}]
parameters:
  lr: {type: float, low: 1.0e-4, high: 1, log: true}
  opt: {type: categorical, choices: [sgd, adam]}
  momentum: {type: float, low: 0.5, high: 0.9, when: {opt: sgd}}
trial:
  command: [/bin/sh, trial.sh, "${lr}", "--momentum=${momentum}", "${opt}"]
  env: {OPT: "${opt}", MOM: "${momentum:-none}"}
`+extra), dir)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func runCommand(t *testing.T, spec *Spec, params space.Params) (Result, error, string) { //nolint:revive,staticcheck // the output comes last, after the error it explains
	t.Helper()
	dir := t.TempDir()
	c := &Command{Spec: spec, Environ: []string{"PATH=/usr/bin:/bin"}, Grace: time.Second}
	var reports []string
	tr := &TrialRun{Number: 3, Params: params, Dir: dir, report: func(_ context.Context, step int64, v float64) error {
		reports = append(reports, fmtNum(v))
		if v > 1000 {
			return ErrPruned
		}
		return nil
	}}
	ctx := context.Background()
	if spec.Trial.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, spec.Trial.Timeout, errTimeout)
		defer cancel()
	}
	res, err := c.Run(ctx, tr)
	return res, err, strings.Join(reports, ",")
}

func TestCommandSubstitutesAndReads(t *testing.T) {
	spec := shellSpec(t, `echo "args: $*"
echo "env: $OPT $MOM $MLOPS_TRIAL_NUMBER"
echo "mlops-metric loss=888 step=1"
echo "mlops-metric loss=.98 step=2"
echo "mlops-metric acc=1e-5"
echo "mlops-metric loss=-3"
echo '{"extra": 2.5}' > "$MLOPS_METRICS_FILE"
`, "")
	res, err, reports := runCommand(t, spec, space.Params{"lr": 0.001, "opt": "adam"})
	if err != nil {
		t.Fatalf("%v\n%s", err, res.Output)
	}
	if res.Metrics["loss"] != -3 || res.Metrics["acc"] != 1e-5 || res.Metrics["extra"] != 2.5 || reports != "888,0.98" || *res.ExitCode != 0 {
		t.Fatalf("metrics %v, reports %s", res.Metrics, reports)
	}
	// momentum is inactive for adam: its argument is left out; the env falls back to the default.
	if !strings.Contains(res.Output, "args: 0.001 adam") || !strings.Contains(res.Output, "env: adam none 3") {
		t.Fatalf("output:\n%s", res.Output)
	}
	res, _, _ = runCommand(t, spec, space.Params{"lr": 0.5, "opt": "sgd", "momentum": 0.75})
	if !strings.Contains(res.Output, "args: 0.5 --momentum=0.75 sgd") || !strings.Contains(res.Output, "env: sgd 0.75") {
		t.Fatalf("output:\n%s", res.Output)
	}
}

func TestCommandFailures(t *testing.T) {
	for _, c := range []struct{ script, extra, want string }{
		{"echo starting\necho 'mlops-metric loss=nan'\nsleep 5\n", "", "metric loss is NaN"},
		{"echo 'mlops-metric loss=0.5,'\n", "", `"0.5," is not a number`},
		{"echo 'Traceback'\necho 'ValueError: boom' >&2\nexit 2\n", "", "exited with status 2"},
		{"echo 'mlops-metric loss=1 step=1'\necho 'mlops-metric loss=5000 step=2'\nsleep 5\necho 'mlops-metric loss=1'\n", "", "pruned"},
		{"sleep 5\n", "  timeout: 200ms\n", "trial timeout"},
		{"echo '[1,2]' > \"$MLOPS_METRICS_FILE\"\n", "", "want a JSON object of numbers"},
	} {
		spec := shellSpec(t, c.script, c.extra)
		t0 := time.Now()
		res, err, _ := runCommand(t, spec, space.Params{"lr": 0.01, "opt": "adam"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q\n%s", c.script, err, c.want, res.Output)
		}
		if time.Since(t0) > 4*time.Second {
			t.Errorf("%q: the program was not stopped early", c.script)
		}
		if c.want == "pruned" && !errors.Is(err, ErrPruned) {
			t.Errorf("prune: %v", err)
		}
		if strings.Contains(c.want, "status 2") && (!strings.Contains(res.Output, "ValueError: boom") || *res.ExitCode != 2) {
			t.Errorf("output tail or exit code lost: %q %v", res.Output, res.ExitCode)
		}
	}
}

// TestCommandTrialWithoutObjectiveFails end to end through the runner: the trial fails with
// the last lines of its output, never a silent success.
func TestCommandTrialWithoutObjectiveFails(t *testing.T) {
	spec := shellSpec(t, "echo epoch 1: loss 0.7\necho done\n", "")
	spec.Budget.Trials = 1
	_, err := run(t, spec, &Command{Spec: spec, Environ: []string{"PATH=/usr/bin:/bin"}}, RunOptions{MaxFailures: 1})
	if !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("%v", err)
	}
	tr := trials(t, spec).Trials[0]
	if tr.State != study.Failed || !strings.Contains(tr.Message, "reported no value for the objective loss (no metrics at all)") ||
		!strings.Contains(tr.Output, "epoch 1: loss 0.7\ndone") || *tr.ExitCode != 0 {
		t.Fatalf("%+v", tr)
	}
	log, _ := os.ReadFile(filepath.Join(defaultArtifacts(spec), "trial-00000", "output.log"))
	if !strings.Contains(string(log), "epoch 1") {
		t.Fatalf("output.log: %q", log)
	}
}
