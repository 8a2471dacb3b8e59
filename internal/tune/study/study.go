// Package study holds the state of one tuning study as every worker sees it after replaying
// the journal: its objectives, search space and trials. Samplers and pruners read it; the
// journal package builds it. It does no I/O.
package study

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/tune/space"
)

// Direction says whether an objective is minimized or maximized.
type Direction string

// The directions of an objective.
const (
	Minimize Direction = "minimize"
	Maximize Direction = "maximize"
)

// Objective is one metric the study optimizes.
type Objective struct {
	Metric    string    `json:"metric"`
	Direction Direction `json:"direction"`
}

// State is a trial's lifecycle state (Optuna's names).
type State string

// The states of a trial, spelled as Optuna spells them.
const (
	Running  State = "RUNNING"
	Complete State = "COMPLETE"
	Pruned   State = "PRUNED"
	Failed   State = "FAIL"
)

// Finished reports whether the state is terminal.
func (s State) Finished() bool { return s == Complete || s == Pruned || s == Failed }

// Intermediate is one value reported while a trial runs (per epoch or step).
type Intermediate struct {
	Step  int64   `json:"step"`
	Value float64 `json:"value"`
}

// Trial is one evaluation of the objective at one point of the space.
type Trial struct {
	Number int          `json:"number"`
	State  State        `json:"state"`
	Params space.Params `json:"params"`
	// Values are the objectives' final values (COMPLETE only), in Objectives order.
	Values []float64 `json:"values,omitempty"`
	// Metrics are every final metric the trial reported.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Intermediate are the first objective's values by step, in report order.
	Intermediate []Intermediate `json:"intermediate,omitempty"`

	Worker    string    `json:"worker,omitempty"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitempty"`
	Heartbeat time.Time `json:"-"` // last sign of life while RUNNING
	// Lease is how long after its last heartbeat a RUNNING trial counts as lost.
	Lease time.Duration `json:"-"`

	// RetryOf is the number of the lost trial this one re-runs (nil: none).
	RetryOf *int `json:"retry_of,omitempty"`
	// Lost marks a FAIL caused by its worker disappearing, not by the trial itself.
	Lost     bool    `json:"lost,omitempty"`
	Message  string  `json:"message,omitempty"`
	ExitCode *int    `json:"exit_code,omitempty"`
	Duration float64 `json:"duration_s,omitempty"`
	Output   string  `json:"output_tail,omitempty"`
	// Artifact is the model file a trial produced (quantize/prune/retrain kinds).
	Artifact string `json:"artifact,omitempty"`
	// Infeasible lists the study's constraints a COMPLETE trial violated, with its values
	// ("accuracy_drop<=0.003 (accuracy_drop=0.0112)"); such a trial is never the best.
	Infeasible []string `json:"infeasible,omitempty"`
	// Violation is how far the trial missed each constraint of Infeasible, in the metric's
	// units (0.0082 for accuracy_drop=0.0112 against <=0.003). Journals written before it was
	// recorded lack it: TotalViolation then works it out from Infeasible and Metrics.
	Violation []float64 `json:"violation,omitempty"`
}

// Feasible reports whether a trial met every constraint of its study.
func (t *Trial) Feasible() bool { return len(t.Infeasible) == 0 }

// TotalViolation is the sum of Violation (0 for a feasible trial): samplers rank infeasible
// trials by it, the least violating first, as Optuna does with constraints_func.
func (t *Trial) TotalViolation() float64 {
	sum := 0.0
	for i, text := range t.Infeasible {
		if i < len(t.Violation) {
			sum += t.Violation[i]
		} else {
			sum += recordedViolation(text, t.Metrics)
		}
	}
	return sum
}

// recordedViolation reads the amount from a constraint as an older journal recorded it,
// "accuracy_drop<=0.003 (accuracy_drop=0.0112)", with the trial's metrics; +Inf if it cannot.
func recordedViolation(text string, metrics map[string]float64) float64 {
	if i := strings.LastIndex(text, " ("); i >= 0 {
		text = text[:i]
	}
	e, err := gate.Parse(text)
	if err != nil {
		return math.Inf(1)
	}
	v, ok := metrics[e.Metric]
	if !ok {
		return math.Inf(1)
	}
	return e.Violation(v, 0)
}

// Study is the replayed state of a study.
type Study struct {
	Name       string
	Objectives []Objective
	Space      *space.Space
	Trials     []*Trial
	Created    time.Time
	Seed       uint64 // the samplers' seed, fixed when the study started
}

// Counts are trials by state.
type Counts struct {
	Complete int `json:"complete"`
	Failed   int `json:"failed"`
	Pruned   int `json:"pruned"`
	Running  int `json:"running"`
	// Infeasible are the complete trials that broke a constraint (counted in Complete too).
	Infeasible int `json:"infeasible,omitempty"`
}

// Count tallies the trials by state.
func (s *Study) Count() Counts {
	var c Counts
	for _, t := range s.Trials {
		switch t.State {
		case Complete:
			c.Complete++
			if !t.Feasible() {
				c.Infeasible++
			}
		case Failed:
			c.Failed++
		case Pruned:
			c.Pruned++
		case Running:
			c.Running++
		}
	}
	return c
}

// Done is the number of trials that count against the study's budget: completed and pruned
// ones. Failed trials do not use up the budget (their slot is retried).
func (s *Study) Done() int {
	c := s.Count()
	return c.Complete + c.Pruned
}

// Sign is +1 for a minimized objective and −1 for a maximized one: sign·value is a loss.
func (o Objective) Sign() float64 {
	if o.Direction == Maximize {
		return -1
	}
	return 1
}

// Better reports whether a beats b on objective o.
func (o Objective) Better(a, b float64) bool { return o.Sign()*a < o.Sign()*b }

// MultiObjective reports whether the study has several objectives.
func (s *Study) MultiObjective() bool { return len(s.Objectives) > 1 }

// Loss returns sign·value per objective for a completed trial (smaller is better everywhere).
func (s *Study) Loss(t *Trial) []float64 {
	out := make([]float64, len(s.Objectives))
	for i, o := range s.Objectives {
		out[i] = o.Sign() * t.Values[i]
	}
	return out
}

// Completed returns the COMPLETE trials in number order.
func (s *Study) Completed() []*Trial {
	var out []*Trial
	for _, t := range s.Trials {
		if t.State == Complete && len(t.Values) == len(s.Objectives) {
			out = append(out, t)
		}
	}
	return out
}

// Best returns the best feasible completed trial of a single-objective study (the lowest
// number on ties), or nil.
func (s *Study) Best() *Trial {
	var best *Trial
	for _, t := range s.Completed() {
		if !t.Feasible() {
			continue
		}
		if best == nil || s.Objectives[0].Better(t.Values[0], best.Values[0]) {
			best = t
		}
	}
	return best
}

// Pareto returns the feasible completed trials no other one dominates, in number order.
func (s *Study) Pareto() []*Trial {
	done := slices.DeleteFunc(s.Completed(), func(t *Trial) bool { return !t.Feasible() })
	losses := make([][]float64, len(done))
	for i, t := range done {
		losses[i] = s.Loss(t)
	}
	var out []*Trial
	for i, t := range done {
		dominated := false
		for j := range done {
			if j != i && Dominates(losses[j], losses[i]) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, t)
		}
	}
	return out
}

// Dominates reports whether loss vector a Pareto-dominates b (no worse anywhere, better somewhere).
func Dominates(a, b []float64) bool {
	better := false
	for i := range a {
		if a[i] > b[i] {
			return false
		}
		if a[i] < b[i] {
			better = true
		}
	}
	return better
}

// Trial returns trial n, or nil.
func (s *Study) Trial(n int) *Trial {
	if n >= 0 && n < len(s.Trials) && s.Trials[n].Number == n {
		return s.Trials[n]
	}
	i := sort.Search(len(s.Trials), func(i int) bool { return s.Trials[i].Number >= n })
	if i < len(s.Trials) && s.Trials[i].Number == n {
		return s.Trials[i]
	}
	return nil
}

// Stale returns the RUNNING trials whose lease ran out at now: their worker is gone.
func (s *Study) Stale(now time.Time) []*Trial {
	var out []*Trial
	for _, t := range s.Trials {
		if t.State == Running && t.Lease > 0 && now.Sub(t.Heartbeat) > t.Lease {
			out = append(out, t)
		}
	}
	return out
}

// LastValue returns the value of the trial's latest intermediate report.
func (t *Trial) LastValue() (Intermediate, bool) {
	if len(t.Intermediate) == 0 {
		return Intermediate{}, false
	}
	return t.Intermediate[len(t.Intermediate)-1], true
}

// ValueAt returns the intermediate value reported at step, if any (the last one on repeats).
func (t *Trial) ValueAt(step int64) (float64, bool) {
	for i := len(t.Intermediate) - 1; i >= 0; i-- {
		if t.Intermediate[i].Step == step {
			return t.Intermediate[i].Value, true
		}
	}
	return math.NaN(), false
}

// ConsecutiveFailures counts the trials that failed on their own (not lost workers) at the end
// of the finished-trial order, i.e. since the last COMPLETE or PRUNED one.
func (s *Study) ConsecutiveFailures() (n int, last *Trial) {
	fin := make([]*Trial, 0, len(s.Trials))
	for _, t := range s.Trials {
		if t.State.Finished() {
			fin = append(fin, t)
		}
	}
	slices.SortStableFunc(fin, func(a, b *Trial) int { return a.Finished.Compare(b.Finished) })
	for i := len(fin) - 1; i >= 0; i-- {
		t := fin[i]
		if t.State != Failed {
			break
		}
		if t.Lost {
			continue
		}
		if last == nil {
			last = t
		}
		n++
	}
	return n, last
}
