package tune

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

var errTimeout = errors.New("trial timeout")

// finishTimeout bounds writing a trial's last record after an interrupt.
const finishTimeout = 30 * time.Second

// runTrial runs one claimed trial and records how it ended.
func (r *Runner) runTrial(ctx context.Context, c *claimed) {
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.mu.Lock()
	r.active[c.number] = &active{cancel: cancel}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.active, c.number)
		r.mu.Unlock()
	}()
	started := r.opts.Now()
	r.emit(Event{Kind: EventStarted, Trial: study.Trial{Number: c.number, State: study.Running, Params: c.params,
		RetryOf: c.retryOf, Worker: r.opts.Worker, Started: started}})

	var res Result
	dir, err := r.trialDir(c.number)
	if err == nil {
		runCtx := tctx
		if d := r.spec.Trial.Timeout; d > 0 {
			var stop context.CancelFunc
			runCtx, stop = context.WithTimeoutCause(tctx, d, errTimeout)
			defer stop()
		}
		res, err = r.obj.Run(runCtx, &TrialRun{Number: c.number, Params: c.params, Dir: dir, report: r.reporter(c.number)})
		if runCtx.Err() != nil && errors.Is(context.Cause(runCtx), errTimeout) {
			err = fmt.Errorf("timed out after %s (trial.timeout)", r.spec.Trial.Timeout)
		}
	}
	if errors.Is(context.Cause(tctx), errLost) {
		return // another worker already failed it; its slot is being retried
	}
	rec := r.finishRecord(c, res, err, ctx.Err() != nil)
	rec.DurationS = r.opts.Now().Sub(started).Seconds()
	wctx, stop := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer stop()
	werr := r.j.Update(wctx, func(st *study.Study) ([]journal.Record, error) {
		if t := st.Trial(c.number); t == nil || t.State != study.Running {
			return nil, nil // failed by another worker meanwhile
		}
		return []journal.Record{rec}, nil
	})
	if werr != nil {
		r.emit(Event{Kind: EventWarning, Message: fmt.Sprintf("trial %d: recording its result: %v (another worker will fail it after its lease)", c.number, werr)})
		return
	}
	_ = r.j.View(wctx, func(st *study.Study) error {
		if t := st.Trial(c.number); t != nil {
			e := Event{Kind: EventFinished, Trial: *t, Counts: st.Count()}
			if b := st.Best(); b != nil && !st.MultiObjective() {
				bc := *b
				e.Best = &bc
			}
			r.emit(e)
		}
		return nil
	})
}

// finishRecord turns a trial's outcome into its journal record.
func (r *Runner) finishRecord(c *claimed, res Result, err error, interrupted bool) journal.Record {
	n := c.number
	rec := journal.Record{Op: journal.OpFinish, Worker: r.opts.Worker, Trial: &n, State: study.Failed,
		ExitCode: res.ExitCode, Artifact: res.Artifact}
	fail := func(msg string) journal.Record {
		rec.Message, rec.Output = msg, res.Output
		return rec
	}
	switch {
	case interrupted:
		// Not the trial's fault: it is re-queued when the study resumes.
		rec.Lost = true
		return fail("interrupted (Ctrl-C or SIGTERM) before it finished")
	case errors.Is(err, ErrPruned):
		rec.State = study.Pruned
		rec.Message = err.Error()
		return rec
	case err != nil:
		return fail(err.Error())
	}
	for k, v := range res.Metrics {
		if !finite(v) {
			return fail(fmt.Sprintf("metric %s is %v", k, v))
		}
	}
	values := make([]float64, len(r.spec.Objectives))
	for i, o := range r.spec.Objectives {
		v, ok := res.Metrics[o.Metric]
		if !ok {
			got := make([]string, 0, len(res.Metrics))
			for k := range res.Metrics {
				got = append(got, k)
			}
			sort.Strings(got)
			have := "no metrics at all"
			if len(got) > 0 {
				have = "only " + strings.Join(got, ", ")
			}
			return fail(fmt.Sprintf("reported no value for the objective %s (%s); print a line 'mlops-metric %s=VALUE' or write it to the metrics file", o.Metric, have, o.Metric))
		}
		values[i] = v
	}
	for _, c := range r.spec.Constraints {
		v, ok := res.Metrics[c.Metric]
		if !ok {
			return fail(fmt.Sprintf("reported no value for %s, which constraints: names (%s)", c.Metric, c.Text))
		}
		if !c.Holds(v, 0) {
			rec.Infeasible = append(rec.Infeasible, fmt.Sprintf("%s (%s=%s)", c.Text, c.Metric, fmtNum(v)))
			rec.Violation = append(rec.Violation, c.Violation(v, 0))
		}
	}
	rec.State, rec.Values, rec.Metrics = study.Complete, values, res.Metrics
	return rec
}

// reporter records an intermediate value and asks the pruner.
func (r *Runner) reporter(n int) func(ctx context.Context, step int64, value float64) error {
	return func(ctx context.Context, step int64, value float64) error {
		if !finite(value) {
			return fmt.Errorf("intermediate value %v at step %d", value, step)
		}
		err := r.j.Update(ctx, func(st *study.Study) ([]journal.Record, error) {
			if t := st.Trial(n); t == nil || t.State != study.Running {
				return nil, errLost
			}
			return []journal.Record{{Op: journal.OpReport, Worker: r.opts.Worker, Trial: &n, Step: &step, Value: &value}}, nil
		})
		if err != nil {
			return err
		}
		prune := false
		if err := r.j.View(ctx, func(st *study.Study) error {
			if t := st.Trial(n); t != nil && t.State == study.Running {
				prune = r.pruner.Prune(st, t, step)
			}
			return nil
		}); err != nil {
			return err
		}
		if prune {
			return fmt.Errorf("%w at step %d (value %s)", ErrPruned, step, fmtNum(value))
		}
		return nil
	}
}

func fmtNum(v float64) string { return fmt.Sprintf("%.6g", v) }
