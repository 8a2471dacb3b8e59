package study

import (
	"math"
	"testing"
	"time"
)

func TestBestParetoAndFailures(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := &Study{Objectives: []Objective{{Metric: "loss", Direction: Minimize}, {Metric: "acc", Direction: Maximize}}}
	add := func(state State, vals ...float64) *Trial {
		tr := &Trial{Number: len(s.Trials), State: state, Values: vals, Finished: t0.Add(time.Duration(len(s.Trials)) * time.Second)}
		s.Trials = append(s.Trials, tr)
		return tr
	}
	add(Complete, 0.5, 0.8)
	add(Complete, 0.4, 0.7) // on the front (lower loss)
	add(Complete, 0.6, 0.7) // dominated by 0
	add(Complete, 0.5, 0.9) // dominates 0
	add(Failed)
	lost := add(Failed)
	lost.Lost = true
	add(Failed)
	front := s.Pareto()
	if len(front) != 2 || front[0].Number != 1 || front[1].Number != 3 {
		t.Fatalf("front %v", front)
	}
	// Single objective: maximize acc.
	s.Objectives = []Objective{{Metric: "acc", Direction: Maximize}}
	for _, tr := range s.Trials {
		if len(tr.Values) == 2 {
			tr.Values = tr.Values[1:]
		}
	}
	if b := s.Best(); b.Number != 3 {
		t.Fatalf("best %d", b.Number)
	}
	if n, last := s.ConsecutiveFailures(); n != 2 || last.Number != 6 {
		t.Fatalf("failures %d %v (a lost trial is not a failure of its own)", n, last)
	}
	if c := s.Count(); c != (Counts{Complete: 4, Failed: 3}) || s.Done() != 4 {
		t.Fatalf("counts %+v", c)
	}
	running := &Trial{Number: 7, State: Running, Heartbeat: t0, Lease: 15 * time.Second}
	s.Trials = append(s.Trials, running)
	if len(s.Stale(t0.Add(10*time.Second))) != 0 || len(s.Stale(t0.Add(16*time.Second))) != 1 {
		t.Fatal("stale")
	}
	if s.Trial(7) != running || s.Trial(99) != nil {
		t.Fatal("Trial lookup")
	}
}

// TestTotalViolation: the journaled amounts are summed; a journal written before they were
// recorded has only the text, and the amount is worked out from it and the trial's metrics.
func TestTotalViolation(t *testing.T) {
	if v := (&Trial{}).TotalViolation(); v != 0 {
		t.Fatalf("feasible: %v", v)
	}
	now := &Trial{Infeasible: []string{"a<=1 (a=3)", "b>=2 (b=1.5)"}, Violation: []float64{2, 0.5}}
	if v := now.TotalViolation(); v != 2.5 {
		t.Fatalf("journaled amounts: %v, want 2.5", v)
	}
	old := &Trial{Infeasible: []string{"accuracy_drop<=0.003 (accuracy_drop=0.0112)", "latency_ms < 5 (latency_ms=7)"},
		Metrics: map[string]float64{"accuracy_drop": 0.0112, "latency_ms": 7}}
	if v := old.TotalViolation(); math.Abs(v-(0.0082+2)) > 1e-12 {
		t.Fatalf("old journal: %v, want 2.0082", v)
	}
	garbled := &Trial{Infeasible: []string{"something else"}}
	if v := garbled.TotalViolation(); !math.IsInf(v, 1) || garbled.Feasible() {
		t.Fatalf("unreadable: %v", v)
	}
}
