package journal

import (
	"fmt"
	"slices"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/study"
)

// apply replays one record onto the study. Records that do not fit (a report for an unknown
// trial, a second start with the same number) are skipped with a warning rather than failing
// the load: the journal is the only copy of the study, and one odd line must not lose it.
// A finish for a trial that already finished is the normal end of a trial whose worker was
// declared lost but came back: the first finish wins, silently.
func (j *Journal) apply(r Record, where string) {
	if r.Op == OpStudy {
		if j.st != nil {
			j.warnf("%s: a second study record (ignored)", where)
			return
		}
		if r.Study == nil || r.Study.Space == nil {
			j.warnf("%s: study record without its study (ignored)", where)
			return
		}
		j.info = *r.Study
		j.st = &study.Study{Name: r.Study.Name, Objectives: r.Study.Objectives, Space: r.Study.Space, Created: r.Time, Seed: r.Study.Seed}
		return
	}
	if j.st == nil {
		j.warnf("%s: %s record before the study record (ignored)", where, r.Op)
		return
	}
	if r.Op == OpHeartbeat {
		for _, t := range j.running[r.Worker] {
			if r.Time.After(t.Heartbeat) {
				t.Heartbeat = r.Time
			}
		}
		return
	}
	if r.Trial == nil {
		j.warnf("%s: %s record without a trial number (ignored)", where, r.Op)
		return
	}
	n := *r.Trial
	switch r.Op {
	case OpStart:
		if j.st.Trial(n) != nil {
			j.warnf("%s: trial %d started twice (second start ignored)", where, n)
			return
		}
		params, err := j.st.Space.Normalize(r.Params)
		if err != nil {
			j.warnf("%s: trial %d: %v (ignored)", where, n, err)
			return
		}
		t := &study.Trial{Number: n, State: study.Running, Params: params, Worker: r.Worker,
			Started: r.Time, Heartbeat: r.Time, Lease: time.Duration(r.LeaseS * float64(time.Second)), RetryOf: r.RetryOf}
		// Trials arrive in number order from one writer at a time; keep the slice sorted anyway.
		i, _ := slices.BinarySearchFunc(j.st.Trials, n, func(t *study.Trial, n int) int { return t.Number - n })
		j.st.Trials = slices.Insert(j.st.Trials, i, t)
		j.running[r.Worker] = append(j.running[r.Worker], t)
	case OpReport:
		t := j.st.Trial(n)
		switch {
		case t == nil:
			j.warnf("%s: report for unknown trial %d (ignored)", where, n)
		case t.State != study.Running:
			// a late report from a worker whose trial was already finished: nothing to do
		case r.Step == nil || r.Value == nil:
			j.warnf("%s: report for trial %d without step or value (ignored)", where, n)
		default:
			t.Intermediate = append(t.Intermediate, study.Intermediate{Step: *r.Step, Value: *r.Value})
			if r.Time.After(t.Heartbeat) {
				t.Heartbeat = r.Time
			}
		}
	case OpFinish:
		t := j.st.Trial(n)
		switch {
		case t == nil:
			j.warnf("%s: finish for unknown trial %d (ignored)", where, n)
			return
		case t.State != study.Running:
			return
		case !r.State.Finished():
			j.warnf("%s: finish for trial %d with state %q (ignored)", where, n, r.State)
			return
		case r.State == study.Complete && len(r.Values) != len(j.st.Objectives):
			j.warnf("%s: trial %d complete with %d values for %d objectives (ignored)", where, n, len(r.Values), len(j.st.Objectives))
			return
		}
		t.State, t.Finished = r.State, r.Time
		t.Values, t.Metrics, t.Lost = r.Values, r.Metrics, r.Lost
		t.Message, t.ExitCode, t.Duration, t.Output, t.Artifact = r.Message, r.ExitCode, r.DurationS, r.Output, r.Artifact
		t.Infeasible, t.Violation = r.Infeasible, r.Violation
		j.running[t.Worker] = slices.DeleteFunc(j.running[t.Worker], func(x *study.Trial) bool { return x == t })
		if len(j.running[t.Worker]) == 0 {
			delete(j.running, t.Worker)
		}
	default:
		j.warnf("%s: unknown record op %q (ignored; written by a newer mlops?)", where, r.Op)
	}
}

func (j *Journal) warnf(format string, args ...any) {
	j.warnings = append(j.warnings, fmt.Sprintf(format, args...))
}
