package tune

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/benchfn"
	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// braninSpec is a study of Branin with an in-process objective.
func braninSpec(t testing.TB, dir string, trials int) *Spec {
	t.Helper()
	f, _ := benchfn.Get("branin")
	return &Spec{Dir: dir, Study: "branin", Storage: filepath.Join(dir, "branin.jsonl"),
		Objectives: []study.Objective{{Metric: "y", Direction: study.Minimize}}, Space: f.Space,
		Sampler: sampler.Config{Name: "tpe", Seed: 11}, SeedSet: true, Budget: Budget{Trials: trials},
		Parallelism: 1, Heartbeat: time.Second}
}

var braninObjective = ObjectiveFunc(func(_ context.Context, t *TrialRun) (Result, error) {
	return Result{Metrics: map[string]float64{"y": benchfn.Branin(t.Params["x"].(float64), t.Params["y"].(float64))}}, nil
})

func openJ(t testing.TB, spec *Spec) *journal.Journal {
	t.Helper()
	j, err := journal.Open(context.Background(), spec.Storage, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func run(t testing.TB, spec *Spec, obj Objective, opts RunOptions) (*Summary, error) {
	t.Helper()
	r, err := NewRunner(context.Background(), spec, openJ(t, spec), obj, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r.Run(context.Background())
}

func trials(t testing.TB, spec *Spec) *study.Study {
	t.Helper()
	j, err := journal.Open(context.Background(), spec.Storage, journal.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	st, err := j.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBudgetIsStudyWide: budget.trials counts the study's trials over every run, resume
// included (Optuna's n_trials counts per optimize call).
func TestBudgetIsStudyWide(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 10)
	sum, err := run(t, spec, braninObjective, RunOptions{})
	if err != nil || sum.Reason != StopBudget || sum.Counts.Complete != 10 || sum.Ran != 10 {
		t.Fatalf("%+v %v", sum, err)
	}
	sum, err = run(t, spec, braninObjective, RunOptions{})
	if err != nil || sum.Ran != 0 || sum.Counts.Complete != 10 {
		t.Fatalf("second run with the budget reached: %+v %v", sum, err)
	}
	spec.Budget.Trials = 15
	sum, err = run(t, spec, braninObjective, RunOptions{})
	if err != nil || sum.Ran != 5 || sum.Counts.Complete != 15 {
		t.Fatalf("raised budget: %+v %v", sum, err)
	}
}

// TestSameSeedSameSequence: at parallelism 1 the seed fixes the parameter sequence, whether
// the study runs in one go or is interrupted and resumed.
func TestSameSeedSameSequence(t *testing.T) {
	one := braninSpec(t, t.TempDir(), 25)
	if _, err := run(t, one, braninObjective, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	two := braninSpec(t, t.TempDir(), 9)
	if _, err := run(t, two, braninObjective, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	two.Budget.Trials = 25
	if _, err := run(t, two, braninObjective, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	a, b := trials(t, one), trials(t, two)
	for i := range a.Trials {
		if !maps.Equal(a.Trials[i].Params, b.Trials[i].Params) {
			t.Fatalf("trial %d: %v vs %v", i, a.Trials[i].Params, b.Trials[i].Params)
		}
	}
	other := braninSpec(t, t.TempDir(), 3)
	other.Sampler.Seed = 12
	run(t, other, braninObjective, RunOptions{})
	if maps.Equal(trials(t, other).Trials[0].Params, a.Trials[0].Params) {
		t.Fatal("seed 12 gives seed 11's first trial")
	}
}

func TestSeedRecordedWhenNotGiven(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 2)
	spec.SeedSet = false
	r, err := NewRunner(context.Background(), spec, openJ(t, spec), braninObjective, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewRunner(context.Background(), spec, openJ(t, spec), braninObjective, RunOptions{})
	if err != nil || r.Seed() != r2.Seed() || r.Seed() == 11 {
		t.Fatalf("seeds %d %d %v", r.Seed(), r2.Seed(), err)
	}
	spec.SeedSet, spec.Sampler.Seed = true, r.Seed()+1
	if _, err := NewRunner(context.Background(), spec, openJ(t, spec), braninObjective, RunOptions{}); err == nil || !strings.Contains(err.Error(), "differs from the seed") {
		t.Fatalf("changed seed: %v", err)
	}
}

func TestJournalOfAnotherStudyRefused(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 2)
	run(t, spec, braninObjective, RunOptions{})
	other := *spec
	other.Study = "other"
	_, err := NewRunner(context.Background(), &other, openJ(t, &other), braninObjective, RunOptions{})
	if !errors.Is(err, journal.ErrOtherStudy) || !strings.Contains(err.Error(), `holds study "branin", not "other"`) {
		t.Fatalf("%v", err)
	}
	changed := *spec
	changed.Space, _ = ParseSpaceForTest("x", 0, 1)
	if _, err := NewRunner(context.Background(), &changed, openJ(t, &changed), braninObjective, RunOptions{}); err == nil || !strings.Contains(err.Error(), "search space changed") {
		t.Fatalf("%v", err)
	}
	if st := trials(t, spec); len(st.Trials) != 2 {
		t.Fatalf("journal touched: %d trials", len(st.Trials))
	}
}

// TestFailuresInARowStop: three failed trials in a row stop the study with the last one's
// reason and output; a resumed run counts afresh.
func TestFailuresInARowStop(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 20)
	var calls atomic.Int32
	bad := ObjectiveFunc(func(_ context.Context, tr *TrialRun) (Result, error) {
		calls.Add(1)
		return Result{Output: "Traceback ...\nValueError: bad lr"}, fmt.Errorf("exited with status 1")
	})
	sum, err := run(t, spec, bad, RunOptions{})
	if !errors.Is(err, ErrTooManyFailures) || !strings.Contains(err.Error(), "ValueError: bad lr") || !strings.Contains(err.Error(), "trial 2: exited with status 1") {
		t.Fatalf("%v", err)
	}
	if sum.Counts.Failed != 3 || calls.Load() != 3 {
		t.Fatalf("%+v after %d calls", sum.Counts, calls.Load())
	}
	sum, err = run(t, spec, braninObjective, RunOptions{})
	if err != nil || sum.Counts.Complete != 20 {
		t.Fatalf("resume after the fix: %+v %v", sum, err)
	}
}

func TestNoObjectiveFails(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 1)
	obj := ObjectiveFunc(func(context.Context, *TrialRun) (Result, error) {
		return Result{Metrics: map[string]float64{"loss": 1}, Output: "epoch 1 loss 1"}, nil
	})
	run(t, spec, obj, RunOptions{MaxFailures: 1})
	tr := trials(t, spec).Trials[0]
	if tr.State != study.Failed || !strings.Contains(tr.Message, "reported no value for the objective y (only loss)") || tr.Output != "epoch 1 loss 1" {
		t.Fatalf("%+v", tr)
	}
}

// TestParallelTrialsInOneProcess: four at a time, every trial number once, the budget exact.
func TestParallelTrialsInOneProcess(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 24)
	var mu sync.Mutex
	running, peak := 0, 0
	obj := ObjectiveFunc(func(ctx context.Context, tr *TrialRun) (Result, error) {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return braninObjective(ctx, tr)
	})
	sum, err := run(t, spec, obj, RunOptions{Parallelism: 4})
	if err != nil || sum.Counts.Complete != 24 || peak < 2 || peak > 4 {
		t.Fatalf("%+v %v peak %d", sum, err, peak)
	}
}

// TestLostTrialRetried: a RUNNING trial whose worker stopped sending heartbeats is failed as
// lost by the next worker, and its parameters run again once as a retry.
func TestLostTrialRetried(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 3)
	spec.Heartbeat = 50 * time.Millisecond
	j := openJ(t, spec)
	r, err := NewRunner(context.Background(), spec, j, braninObjective, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// A dead worker's trial 0, last seen a minute ago.
	zero := 0
	if err := j.Update(context.Background(), func(*study.Study) ([]journal.Record, error) {
		return []journal.Record{{Op: journal.OpStart, Worker: "dead", Trial: &zero, Params: map[string]any{"x": 1.0, "y": 2.0},
			LeaseS: 0.075, Time: time.Now().Add(-time.Minute)}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	var lost []int
	r.opts.Events = func(e Event) {
		if e.Kind == EventLost {
			lost = append(lost, e.Trial.Number)
		}
	}
	sum, err := r.Run(context.Background())
	if err != nil || sum.Counts.Complete != 3 || sum.Counts.Failed != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	st := trials(t, spec)
	t0, t1 := st.Trials[0], st.Trials[1]
	if t0.State != study.Failed || !t0.Lost || !strings.Contains(t0.Message, "worker dead sent no heartbeat") {
		t.Fatalf("trial 0: %+v", t0)
	}
	if t1.RetryOf == nil || *t1.RetryOf != 0 || !maps.Equal(t1.Params, t0.Params) || len(lost) != 1 {
		t.Fatalf("trial 1 is not the retry of 0: %+v, lost events %v", t1, lost)
	}
}

// TestOwnStalledTrialIsNotLost: when this process itself stalls past its lease (an overloaded
// machine), its heartbeat renews the trial it is still running instead of failing it as lost.
func TestOwnStalledTrialIsNotLost(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 2)
	spec.Heartbeat = 40 * time.Millisecond
	var skew atomic.Int64 // the clock jumps as if the process had been frozen for a minute
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	obj := ObjectiveFunc(func(ctx context.Context, tr *TrialRun) (Result, error) {
		if tr.Number == 0 {
			skew.Add(int64(time.Minute))
			time.Sleep(8 * spec.Heartbeat) // several heartbeat ticks see the stale lease
		}
		return braninObjective(ctx, tr)
	})
	var lost atomic.Int32
	sum, err := run(t, spec, obj, RunOptions{Now: now, Events: func(e Event) {
		if e.Kind == EventLost {
			lost.Add(1)
		}
	}})
	if err != nil || sum.Counts.Complete != 2 || sum.Counts.Failed != 0 || lost.Load() != 0 {
		t.Fatalf("%+v %v, %d lost", sum, err, lost.Load())
	}
	if t0 := trials(t, spec).Trials[0]; t0.State != study.Complete || t0.Lost {
		t.Fatalf("trial 0: %+v", t0)
	}
}

// TestInterruptRecordsRunningTrials: cancelling the context cancels running trials, records
// them as interrupted (not their fault) and the resumed study re-runs them.
func TestInterruptRecordsRunningTrials(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 4)
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	var once sync.Once
	obj := ObjectiveFunc(func(ctx context.Context, tr *TrialRun) (Result, error) {
		if tr.Number == 2 {
			once.Do(func() { close(started) })
			<-ctx.Done()
			return Result{}, ctx.Err()
		}
		return braninObjective(ctx, tr)
	})
	r, err := NewRunner(context.Background(), spec, openJ(t, spec), obj, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() { <-started; cancel() }()
	sum, err := r.Run(ctx)
	if !errors.Is(err, context.Canceled) || sum.Reason != StopInterrupted {
		t.Fatalf("%+v %v", sum, err)
	}
	tr := trials(t, spec).Trials[2]
	if tr.State != study.Failed || !tr.Lost || !strings.Contains(tr.Message, "interrupted") {
		t.Fatalf("%+v", tr)
	}
	sum, err = run(t, spec, braninObjective, RunOptions{})
	st := trials(t, spec)
	if err != nil || sum.Counts.Complete != 4 || st.Trials[3].RetryOf == nil || *st.Trials[3].RetryOf != 2 {
		t.Fatalf("resume: %+v %v", sum, err)
	}
}

// TestPrunerStopsBadTrials: trials report a loss curve per epoch; the median pruner stops
// the ones that are worse than the median at the same epoch.
func TestPrunerStopsBadTrials(t *testing.T) {
	spec := braninSpec(t, t.TempDir(), 30)
	spec.Pruner.Name = "median"
	var epochs atomic.Int32
	obj := ObjectiveFunc(func(ctx context.Context, tr *TrialRun) (Result, error) {
		final := benchfn.Branin(tr.Params["x"].(float64), tr.Params["y"].(float64))
		v := 0.0
		for e := int64(1); e <= 10; e++ {
			epochs.Add(1)
			v = final * (1 + 1/float64(e))
			if err := tr.Report(ctx, e, v); err != nil {
				return Result{}, err
			}
		}
		return Result{Metrics: map[string]float64{"y": final}}, nil
	})
	sum, err := run(t, spec, obj, RunOptions{})
	if err != nil || sum.Counts.Pruned < 5 || sum.Counts.Complete+sum.Counts.Pruned != 30 || epochs.Load() >= 300*8/10 {
		t.Fatalf("%+v %v, %d epochs", sum.Counts, err, epochs.Load())
	}
	for _, tr := range trials(t, spec).Trials {
		if tr.State == study.Pruned && (len(tr.Intermediate) == 0 || !strings.Contains(tr.Message, "pruned at step")) {
			t.Fatalf("pruned trial %+v", tr)
		}
	}
}

// TestGridBudgetIsTheGrid: a grid study without budget.trials runs every point once.
func TestGridBudgetIsTheGrid(t *testing.T) {
	spec, err := ParseSpec([]byte(`version: 1
study: g
objectives: [{metric: y, direction: minimize}]
parameters:
  a: {type: int, low: 1, high: 3}
  b: {type: categorical, choices: [x, y]}
sampler: grid
trial: {command: [echo, "${a}", "${b}"]}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := run(t, spec, ObjectiveFunc(func(context.Context, *TrialRun) (Result, error) {
		return Result{Metrics: map[string]float64{"y": 1}}, nil
	}), RunOptions{Parallelism: 2})
	if err != nil || sum.Counts.Complete != 6 || sum.Reason != StopBudget {
		t.Fatalf("%+v %v", sum, err)
	}
}
