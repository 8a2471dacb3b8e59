// Package pruner decides, from the intermediate values trials report (per epoch or step),
// whether a running trial is worth finishing: median stopping and asynchronous successive
// halving (ASHA), with Optuna's defaults. Like the samplers it keeps no state: decisions are a
// function of the study's trials, so every worker agrees.
package pruner

import (
	"fmt"
	"math"
	"slices"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// Pruner decides whether a trial should stop.
type Pruner interface {
	// Prune is asked after trial t reported its value at step (already in t.Intermediate).
	Prune(st *study.Study, t *study.Trial, step int64) bool
}

// Config selects and tunes a pruner. Zero values mean the defaults.
type Config struct {
	Name string // none, median, asha

	// Median (Optuna's MedianPruner).
	StartupTrials int // completed trials before any pruning (5)
	WarmupSteps   int64
	IntervalSteps int64 // check every n steps (1)

	// ASHA (Optuna's SuccessiveHalvingPruner).
	MinResource          int64 // first rung's step (0: auto, max completed step / 100, at least 1)
	ReductionFactor      int   // η: keep the best 1/η at each rung (4)
	MinEarlyStoppingRate int   // s: rungs at MinResource·η^(s+k) (0)
}

// Names lists the accepted pruner names.
var Names = []string{"none", "median", "asha"}

// New builds the pruner cfg names.
func New(cfg Config) (Pruner, error) {
	switch cfg.Name {
	case "", "none", "nop":
		return None{}, nil
	case "median":
		m := &Median{Startup: cfg.StartupTrials, Warmup: cfg.WarmupSteps, Interval: cfg.IntervalSteps}
		if m.Startup <= 0 {
			m.Startup = 5
		}
		if m.Interval <= 0 {
			m.Interval = 1
		}
		return m, nil
	case "asha", "successive_halving":
		a := &ASHA{MinResource: cfg.MinResource, Eta: cfg.ReductionFactor, S: cfg.MinEarlyStoppingRate}
		if a.Eta <= 0 {
			a.Eta = 4
		}
		if a.Eta < 2 {
			return nil, fmt.Errorf("pruner asha: reduction_factor must be at least 2")
		}
		return a, nil
	}
	return nil, fmt.Errorf("unknown pruner %q: use none, median or asha", cfg.Name)
}

// None never prunes.
type None struct{}

// Prune is always false.
func (None) Prune(*study.Study, *study.Trial, int64) bool { return false }

// Median prunes a trial whose value at a step is worse than the median of the completed
// trials' values at the same step.
type Median struct {
	Startup  int
	Warmup   int64
	Interval int64
}

// Prune implements Pruner.
func (m *Median) Prune(st *study.Study, t *study.Trial, step int64) bool {
	done := st.Completed()
	if len(done) < m.Startup || step < m.Warmup || (step-m.Warmup)%m.Interval != 0 {
		return false
	}
	v, ok := t.ValueAt(step)
	if !ok {
		return false
	}
	if math.IsNaN(v) {
		return true
	}
	var others []float64
	for _, o := range done {
		if ov, ok := o.ValueAt(step); ok && !math.IsNaN(ov) {
			others = append(others, ov)
		}
	}
	if len(others) == 0 {
		return false
	}
	obj := st.Objectives[0]
	return obj.Better(median(others), v)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ASHA is asynchronous successive halving: rungs at steps r·η^(s+k); a trial reaching a rung
// continues only if its value there is among the best 1/η of every trial that reached the
// rung so far (the best one always continues). No trial waits for a rung to fill. Decisions
// are Optuna 3.1's SuccessiveHalvingPruner's (TestASHAMatchesOptuna), except that trials that
// ran before an "auto" min_resource could be sized compete too (Optuna records nothing for
// them), and that a trial pruned by a report past several rungs competes only at the lowest.
//
// Run one trial at a time, a trial that is the best so far at a rung always continues, so
// the first trial and every later best-so-far run to the end: how many epochs ASHA saves
// depends on the grid's size and order (docs/tune.md, "ASHA on retrain").
type ASHA struct {
	MinResource int64
	Eta         int
	S           int
}

// Prune implements Pruner.
func (a *ASHA) Prune(st *study.Study, t *study.Trial, step int64) bool {
	r := a.MinResource
	if r <= 0 {
		var maxStep int64
		for _, c := range st.Completed() {
			if last, ok := c.LastValue(); ok {
				maxStep = max(maxStep, last.Step)
			}
		}
		if maxStep == 0 {
			return false // no completed trial yet to size the rungs from
		}
		r = max(maxStep/100, 1)
	}
	obj := st.Objectives[0]
	for k := 0; ; k++ {
		rung := r * pow(int64(a.Eta), a.S+k)
		if step < rung {
			return false
		}
		v, at, ok := rungValue(t, rung)
		if !ok {
			return false
		}
		if at < step {
			continue // this rung was passed at an earlier report
		}
		if math.IsNaN(v) {
			return true
		}
		competing := []float64{v}
		for _, o := range st.Trials {
			if o == t || (o.State != study.Complete && o.State != study.Pruned && o.State != study.Running) {
				continue
			}
			if o.State == study.Pruned && rung > a.prunedRung(o, r) {
				continue // o was stopped at a lower rung: it never competed at this one
			}
			if ov, _, ok := rungValue(o, rung); ok && !math.IsNaN(ov) {
				competing = append(competing, ov)
			}
		}
		// Sort best first; the trial continues if it is within the best ⌊n/η⌋ (at least one).
		slices.SortFunc(competing, func(x, y float64) int {
			switch {
			case obj.Better(x, y):
				return -1
			case obj.Better(y, x):
				return 1
			}
			return 0
		})
		idx := max(len(competing)/a.Eta-1, 0)
		if obj.Better(competing[idx], v) {
			return true
		}
	}
}

// prunedRung is the rung a pruned trial was stopped at: the first rung past the report before
// its last one (each report judges the rungs it has reached since the previous report, lowest
// first, and the trial stopped at the first it failed). When one report reached several rungs
// this is the lowest of them, so the trial is not counted at rungs it may not have passed.
func (a *ASHA) prunedRung(o *study.Trial, r int64) int64 {
	var prev int64
	if n := len(o.Intermediate); n >= 2 {
		steps := make([]int64, n)
		for i, iv := range o.Intermediate {
			steps[i] = iv.Step
		}
		slices.Sort(steps)
		prev = steps[n-2]
	}
	rung := r * pow(int64(a.Eta), a.S)
	for k := 1; rung <= prev; k++ {
		rung = r * pow(int64(a.Eta), a.S+k)
	}
	return rung
}

// rungValue is a trial's value at a rung: the first value it reported at a step ≥ rung, and
// that step.
func rungValue(t *study.Trial, rung int64) (float64, int64, bool) {
	best := int64(math.MaxInt64)
	var v float64
	for _, iv := range t.Intermediate {
		if iv.Step >= rung && iv.Step < best {
			best, v = iv.Step, iv.Value
		}
	}
	return v, best, best != math.MaxInt64
}

func pow(b int64, e int) int64 {
	out := int64(1)
	for range e {
		out *= b
		if out > math.MaxInt64/b {
			return math.MaxInt64
		}
	}
	return out
}
