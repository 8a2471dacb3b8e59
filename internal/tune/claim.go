package tune

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"

	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// claimed is a trial this worker has started in the journal.
type claimed struct {
	number  int
	params  space.Params
	retryOf *int
}

type claimWhy int

const (
	claimOK        claimWhy = iota
	claimDone               // the budget is reached
	claimWait               // nothing to start now (budget held by running trials, CMA-ES generation)
	claimExhausted          // grid exhausted and nothing running
	claimFailures           // too many failures in a row
)

// claim starts the next trial in one journal transaction: it fails stale trials, checks the
// budget (finished trials plus live running ones, over every worker), picks the parameters
// (a lost trial's, re-queued once, else the sampler's) and appends the start record. Doing all
// of it under the journal's lock is what keeps workers from running the same trial or grid
// point twice and from overrunning the budget.
func (r *Runner) claim(ctx context.Context) (*claimed, claimWhy, error) {
	var c *claimed
	why := claimOK
	var lost []study.Trial
	err := r.j.Update(ctx, func(st *study.Study) ([]journal.Record, error) {
		c, why, lost = nil, claimOK, lost[:0]
		recs, renew := r.reclaim(st)
		for _, rec := range recs {
			lost = append(lost, *st.Trial(*rec.Trial))
		}
		if renew {
			recs = append(recs, journal.Record{Op: journal.OpHeartbeat, Worker: r.opts.Worker})
		}
		if n, _ := consecutiveFailures(st, r.start); n >= r.opts.MaxFailures {
			why = claimFailures
			return recs, nil
		}
		counts := st.Count()
		done := counts.Complete + counts.Pruned
		running := counts.Running - len(lost)
		if b := r.budgetTrials(); b > 0 {
			if done >= b {
				why = claimDone
				return recs, nil
			}
			if done+running >= b {
				why = claimWait
				return recs, nil
			}
		}
		n := 0
		if len(st.Trials) > 0 {
			n = st.Trials[len(st.Trials)-1].Number + 1
		}
		params, retryOf, err := r.nextParams(ctx, st, n, lost)
		switch {
		case errors.Is(err, sampler.ErrExhausted):
			why = claimWait
			if running == 0 {
				why = claimExhausted
			}
			return recs, nil
		case errors.Is(err, sampler.ErrWait):
			why = claimWait
			return recs, nil
		case err != nil:
			return nil, err
		}
		c = &claimed{number: n, params: params, retryOf: retryOf}
		return append(recs, journal.Record{Op: journal.OpStart, Worker: r.opts.Worker, Trial: &n,
			Params: params, RetryOf: retryOf, LeaseS: r.lease.Seconds()}), nil
	})
	if err != nil {
		return nil, why, err
	}
	for _, t := range lost {
		r.emit(Event{Kind: EventLost, Trial: t})
	}
	return c, why, nil
}

// nextParams re-queues the oldest lost trial that has not been retried (once: a retry that is
// lost again is not retried), else asks the sampler.
func (r *Runner) nextParams(ctx context.Context, st *study.Study, n int, justLost []study.Trial) (space.Params, *int, error) {
	retried := map[int]bool{}
	for _, t := range st.Trials {
		if t.RetryOf != nil {
			retried[*t.RetryOf] = true
		}
	}
	isLost := map[int]bool{}
	for _, t := range justLost {
		isLost[t.Number] = true
	}
	for _, t := range st.Trials {
		if (t.State == study.Failed && t.Lost || isLost[t.Number]) && t.RetryOf == nil && !retried[t.Number] {
			num := t.Number
			return maps.Clone(t.Params), &num, nil
		}
	}
	p, err := r.sampler.Sample(ctx, st, n)
	if err != nil {
		return nil, nil, err
	}
	return p, nil, nil
}

// trialDir creates the folder of trial n.
func (r *Runner) trialDir(n int) (string, error) {
	dir := filepath.Join(r.opts.ArtifactsDir, fmt.Sprintf("trial-%05d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("trial %d: create its folder: %w", n, err)
	}
	return dir, nil
}
