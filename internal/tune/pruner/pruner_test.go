package pruner

import (
	"testing"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// curve builds a trial reporting values at steps 1..len(vals).
func curve(n int, state study.State, vals ...float64) *study.Trial {
	t := &study.Trial{Number: n, State: state}
	for i, v := range vals {
		t.Intermediate = append(t.Intermediate, study.Intermediate{Step: int64(i + 1), Value: v})
	}
	if state == study.Complete {
		t.Values = []float64{vals[len(vals)-1]}
	}
	return t
}

func TestMedian(t *testing.T) {
	st := &study.Study{Objectives: []study.Objective{{Metric: "loss", Direction: study.Minimize}}}
	p, _ := New(Config{Name: "median"})
	for i := 0; i < 4; i++ {
		st.Trials = append(st.Trials, curve(i, study.Complete, 1, 0.8, 0.6))
	}
	bad := curve(10, study.Running, 2)
	st.Trials = append(st.Trials, bad)
	if p.Prune(st, bad, 1) {
		t.Fatal("pruned before 5 completed trials (n_startup_trials)")
	}
	st.Trials = append(st.Trials, curve(4, study.Complete, 1.2, 1.0, 0.9))
	if !p.Prune(st, bad, 1) {
		t.Fatal("a trial worse than the median at step 1 was not pruned")
	}
	good := curve(11, study.Running, 0.9, 0.7)
	if p.Prune(st, good, 2) {
		t.Fatal("a trial better than the median was pruned")
	}
	// Maximize flips it.
	st.Objectives[0].Direction = study.Maximize
	if p.Prune(st, bad, 1) {
		t.Fatal("maximize: a higher value was pruned")
	}
	w, _ := New(Config{Name: "median", WarmupSteps: 2})
	if w.Prune(st, curve(12, study.Running, 0), 1) {
		t.Fatal("pruned during warm-up")
	}
}

func TestASHA(t *testing.T) {
	st := &study.Study{Objectives: []study.Objective{{Metric: "loss", Direction: study.Minimize}}}
	p, _ := New(Config{Name: "asha", MinResource: 1, ReductionFactor: 2})
	// Rungs at steps 1, 2, 4, 8. The first trial to reach a rung always continues.
	first := curve(0, study.Running, 1.0)
	st.Trials = append(st.Trials, first)
	if p.Prune(st, first, 1) {
		t.Fatal("the first trial at a rung was pruned")
	}
	second := curve(1, study.Running, 2.0)
	st.Trials = append(st.Trials, second)
	if !p.Prune(st, second, 1) {
		t.Fatal("of two trials at rung 1 only the best 1/η = 1 continues")
	}
	third := curve(2, study.Running, 0.5)
	st.Trials = append(st.Trials, third)
	if p.Prune(st, third, 1) {
		t.Fatal("the best trial at rung 1 was pruned")
	}
	// Step 3 is between rungs: no decision; rung 1 is not judged again.
	for _, v := range []float64{0.4, 0.45} {
		third.Intermediate = append(third.Intermediate, study.Intermediate{Step: int64(len(third.Intermediate) + 1), Value: v})
	}
	if p.Prune(st, third, 3) {
		t.Fatal("pruned between rungs")
	}
	// Auto min_resource needs a completed trial.
	auto, _ := New(Config{Name: "asha"})
	if auto.Prune(st, second, 1) {
		t.Fatal("auto min_resource pruned without a completed trial")
	}
	if _, err := New(Config{Name: "hyperband"}); err == nil {
		t.Fatal("unknown pruner accepted")
	}
}
