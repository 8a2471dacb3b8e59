package tune

import (
	"github.com/mlops-dev/mlops/internal/tune/report"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// trialJSON is one trial in `tune best` and `tune status` output.
type trialJSON struct {
	Trial     int                `json:"trial"`
	Params    space.Params       `json:"params"`
	Values    map[string]float64 `json:"values"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	State     study.State        `json:"state"`
	DurationS float64            `json:"duration_s"`
	Artifact  string             `json:"artifact,omitempty"`
	// Infeasible lists the constraints the trial broke; such a trial is never the best.
	Infeasible []string `json:"infeasible,omitempty"`
}

func toTrialJSON(objs []study.Objective, t *study.Trial) *trialJSON {
	if t == nil {
		return nil
	}
	vals := map[string]float64{}
	for i, o := range objs {
		if i < len(t.Values) {
			vals[o.Metric] = t.Values[i]
		}
	}
	return &trialJSON{Trial: t.Number, Params: t.Params, Values: vals, Metrics: t.Metrics, State: t.State, DurationS: t.Duration, Artifact: t.Artifact, Infeasible: t.Infeasible}
}

// statusJSON is `tune status --output json` (and the summary of `tune run`).
type statusJSON struct {
	Study      string              `json:"study"`
	Storage    string              `json:"storage"`
	Objectives []study.Objective   `json:"objectives"`
	Trials     study.Counts        `json:"trials"`
	Best       *trialJSON          `json:"best"`
	Pareto     []*trialJSON        `json:"pareto,omitempty"`
	Importance []report.Importance `json:"importance,omitempty"`
	Running    []*trialJSON        `json:"running"`
	Stopped    string              `json:"stopped,omitempty"` // tune run: why it ended
	Ran        *int                `json:"ran,omitempty"`     // tune run: trials this process ran
}

func buildStatus(r *report.Report, st *study.Study) *statusJSON {
	s := &statusJSON{Study: r.Study, Storage: r.Storage, Objectives: r.Objectives, Trials: r.Counts,
		Best: toTrialJSON(r.Objectives, r.Best), Importance: r.Importance, Running: []*trialJSON{}}
	for _, t := range r.Pareto {
		s.Pareto = append(s.Pareto, toTrialJSON(r.Objectives, t))
	}
	for _, t := range st.Trials {
		if t.State == study.Running {
			s.Running = append(s.Running, toTrialJSON(r.Objectives, t))
		}
	}
	return s
}
