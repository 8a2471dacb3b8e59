// Package tune runs hyperparameter and optimization studies: it reads a study file (search
// space, objectives, sampler, pruner, budget, what a trial runs), and runs trials through a
// journal that several worker processes on one or many machines can share, so a study
// survives crashes and scales out.
//
// The package knows nothing about cobra, flags or environment variables; the CLI passes the
// environment a command trial sees, and renders the events a run emits.
package tune

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/journal"
	"github.com/mlops-dev/mlops/internal/tune/pruner"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// RunOptions configure one run (one process; several may share the journal).
type RunOptions struct {
	// Worker names this process in the journal; it must be unique among live workers
	// (default: host-pid-random).
	Worker string
	// Parallelism is how many trials this process runs at once (default: the spec's).
	Parallelism int
	// Shared says other processes work on the same study: the sampler then lies about
	// running trials (constant liar) even at parallelism 1.
	Shared bool
	// MaxFailures stops the study after this many trials failed in a row (default 3).
	MaxFailures int
	// ArtifactsDir holds one folder per trial (default: <study>.trials next to the journal,
	// or in the working directory for a blob journal).
	ArtifactsDir string
	// Now returns the current time; tests pin it.
	Now func() time.Time
	// Events receives progress; calls are serialised.
	Events func(Event)
}

// EventKind says what happened.
type EventKind string

// The events a runner reports.
const (
	EventStarted  EventKind = "started"
	EventFinished EventKind = "finished"
	EventLost     EventKind = "lost"    // another worker's trial was failed after its heartbeats stopped
	EventWaiting  EventKind = "waiting" // nothing to start until running trials finish
	EventWarning  EventKind = "warning"
)

// Event is one step of a run.
type Event struct {
	Kind    EventKind
	Trial   study.Trial // a copy; for started/finished/lost
	Best    *study.Trial
	Counts  study.Counts
	Message string
}

// StopReason says why a run ended.
type StopReason string

// Why a study stopped.
const (
	StopBudget      StopReason = "budget"      // the study reached budget.trials
	StopTime        StopReason = "time"        // budget.time ran out
	StopExhausted   StopReason = "exhausted"   // the grid has no point left
	StopFailures    StopReason = "failures"    // too many trials failed in a row
	StopInterrupted StopReason = "interrupted" // the context was cancelled
)

// Summary is the outcome of a run.
type Summary struct {
	Reason   StopReason
	Counts   study.Counts
	Best     *study.Trial
	Pareto   []*study.Trial
	Ran      int // trials this process ran
	Warnings []string
}

// ErrTooManyFailures wraps the last failure when a study stops after failures in a row.
var ErrTooManyFailures = errors.New("trials failed in a row")

// Runner runs one study in this process.
type Runner struct {
	spec    *Spec
	j       *journal.Journal
	obj     Objective
	opts    RunOptions
	sampler sampler.Sampler
	pruner  pruner.Pruner
	seed    uint64
	start   time.Time
	lease   time.Duration
	gridMax int // points of a grid sampler (the default budget), 0 otherwise

	evMu   sync.Mutex
	mu     sync.Mutex
	active map[int]*active
}

type active struct {
	cancel context.CancelCauseFunc
	lost   bool
}

// NewRunner checks the study against the journal (creating the study record the first time)
// and prepares the sampler and pruner.
func NewRunner(ctx context.Context, spec *Spec, j *journal.Journal, obj Objective, opts RunOptions) (*Runner, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = spec.Parallelism
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 3
	}
	if opts.Worker == "" {
		opts.Worker = DefaultWorkerID()
	}
	r := &Runner{spec: spec, j: j, obj: obj, opts: opts, active: map[int]*active{},
		lease: spec.Heartbeat * 3 / 2}
	if err := r.ensureStudy(ctx); err != nil {
		return nil, err
	}
	cfg := spec.Sampler
	cfg.Seed = j.Info().Seed
	cfg.Parallel = opts.Parallelism > 1 || opts.Shared
	s, err := sampler.New(cfg, spec.Space, spec.Objectives)
	if err != nil {
		return nil, err
	}
	r.sampler, r.seed = s, cfg.Seed
	if g, ok := s.(*sampler.Grid); ok {
		r.gridMax = g.Size()
	}
	if r.pruner, err = pruner.New(spec.Pruner); err != nil {
		return nil, err
	}
	if spec.Budget.Trials == 0 && spec.Budget.Time == 0 && r.gridMax == 0 {
		return nil, fmt.Errorf("the study has no budget: set budget.trials or budget.time (or pass --trials / --time)")
	}
	if r.opts.ArtifactsDir == "" {
		r.opts.ArtifactsDir = defaultArtifacts(spec)
	}
	return r, nil
}

func defaultArtifacts(spec *Spec) string {
	if filepath.IsAbs(spec.Storage) {
		return filepath.Join(filepath.Dir(spec.Storage), spec.Study+".trials")
	}
	return filepath.Join(spec.Dir, spec.Study+".trials")
}

// DefaultWorkerID is host-pid-random: unique even when a restarted container reuses a pid.
func DefaultWorkerID() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	var b [2]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), binary.BigEndian.Uint16(b[:]))
}

// ensureStudy writes the study record into an empty journal, or checks that the journal
// holds this study with the same objectives and search space.
func (r *Runner) ensureStudy(ctx context.Context) error {
	return r.j.Update(ctx, func(st *study.Study) ([]journal.Record, error) {
		if st == nil {
			seed := r.spec.Sampler.Seed
			if !r.spec.SeedSet {
				var b [8]byte
				_, _ = rand.Read(b[:])
				seed = binary.BigEndian.Uint64(b[:]) >> 1
			}
			return []journal.Record{{Op: journal.OpStudy, Worker: r.opts.Worker, Study: &journal.StudyInfo{
				Name: r.spec.Study, Format: journal.Format, Objectives: r.spec.Objectives, Space: r.spec.Space, Seed: seed}}}, nil
		}
		return nil, r.checkSame(st)
	})
}

func (r *Runner) checkSame(st *study.Study) error {
	loc := r.j.Location()
	if st.Name != r.spec.Study {
		return fmt.Errorf("%w: %s holds study %q, not %q: use another storage: or the same study: name", journal.ErrOtherStudy, loc, st.Name, r.spec.Study)
	}
	if fmt.Sprint(st.Objectives) != fmt.Sprint(r.spec.Objectives) {
		return fmt.Errorf("the objectives changed since the study started (journal: %v, study file: %v): start a new study (another study: name or storage:)", st.Objectives, r.spec.Objectives)
	}
	a, _ := st.Space.MarshalJSON()
	b, _ := r.spec.Space.MarshalJSON()
	if string(a) != string(b) {
		return fmt.Errorf("the search space changed since the study started (journal %s): start a new study (another study: name or storage:), or restore the parameters as they were:\n  journal:    %s\n  study file: %s", loc, a, b)
	}
	if r.spec.SeedSet && st.Seed != r.spec.Sampler.Seed {
		return fmt.Errorf("sampler.seed %d differs from the seed %d the study started with: remove it or set it back", r.spec.Sampler.Seed, st.Seed)
	}
	return nil
}

// Seed is the study's sampler seed (chosen at random when the study file gives none).
func (r *Runner) Seed() uint64 { return r.seed }

// Worker is this process's worker id.
func (r *Runner) Worker() string { return r.opts.Worker }

func (r *Runner) emit(e Event) {
	if r.opts.Events == nil {
		return
	}
	r.evMu.Lock()
	defer r.evMu.Unlock()
	r.opts.Events(e)
}

// pollEvery is how often a waiting worker looks at the journal again.
func (r *Runner) pollEvery() time.Duration {
	return min(max(r.spec.Heartbeat/4, 10*time.Millisecond), 2*time.Second)
}

// budgetTrials is the study's trial budget (0: unbounded).
func (r *Runner) budgetTrials() int {
	if r.spec.Budget.Trials > 0 {
		return r.spec.Budget.Trials
	}
	return r.gridMax
}

// Run launches trials until the budget is reached, the grid is exhausted, the time budget
// runs out, too many trials fail in a row, or ctx is cancelled (then running trials are
// cancelled and recorded, and the error wraps context.Canceled).
func (r *Runner) Run(ctx context.Context) (*Summary, error) {
	r.start = r.opts.Now()
	runCtx, stopTrials := context.WithCancelCause(ctx)
	defer stopTrials(nil)
	var deadline <-chan time.Time
	if r.spec.Budget.Time > 0 {
		t := time.NewTimer(r.spec.Budget.Time)
		defer t.Stop()
		deadline = t.C
	}
	hbCtx, stopHB := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() { defer close(hbDone); r.heartbeats(hbCtx) }()
	defer func() { stopHB(); <-hbDone }()

	done := make(chan int, r.opts.Parallelism)
	var wg sync.WaitGroup
	defer wg.Wait()
	running := 0
	ran := 0
	var stop StopReason
	var failErr error
	timeUp := false
	tick := time.NewTicker(r.pollEvery())
	defer tick.Stop()
	waiting := false
	for {
		if stop == "" && ctx.Err() != nil {
			stop = StopInterrupted
		}
		if stop == "" && timeUp {
			stop = StopTime
		}
		for stop == "" && running < r.opts.Parallelism {
			c, why, err := r.claim(ctx)
			if err != nil {
				if ctx.Err() != nil {
					stop = StopInterrupted
					break
				}
				stopTrials(err)
				return nil, err
			}
			if c == nil {
				switch why {
				case claimDone:
					stop = StopBudget
				case claimExhausted:
					stop = StopExhausted
				case claimFailures:
					stop, failErr = StopFailures, r.failuresError()
				case claimWait:
					if !waiting && running == 0 {
						r.emit(Event{Kind: EventWaiting, Message: "every budget slot is held by running trials of other workers; waiting"})
					}
					waiting = true
				}
				break
			}
			waiting = false
			running++
			ran++
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.runTrial(runCtx, c)
				done <- c.number
			}()
		}
		if running == 0 && stop != "" {
			break
		}
		select {
		case <-done:
			running--
		case <-tick.C:
		case <-deadline:
			timeUp = true
		case <-ctx.Done():
			stop = StopInterrupted
			stopTrials(context.Cause(ctx))
		}
	}
	sum := &Summary{Reason: stop, Ran: ran}
	err := r.j.View(context.WithoutCancel(ctx), func(st *study.Study) error {
		sum.Counts = st.Count()
		if st.MultiObjective() {
			sum.Pareto = copyTrials(st.Pareto())
		} else if b := st.Best(); b != nil {
			c := *b
			sum.Best = &c
		}
		return nil
	})
	sum.Warnings = r.j.Warnings()
	if err != nil {
		return sum, err
	}
	switch stop {
	case StopInterrupted:
		return sum, fmt.Errorf("tune %s: %w", r.spec.Study, context.Canceled)
	case StopFailures:
		return sum, failErr
	}
	return sum, nil
}

func copyTrials(ts []*study.Trial) []*study.Trial {
	out := make([]*study.Trial, len(ts))
	for i, t := range ts {
		c := *t
		out[i] = &c
	}
	return out
}

// failuresError describes the failures that stopped the study.
func (r *Runner) failuresError() error {
	var err error
	_ = r.j.View(context.Background(), func(st *study.Study) error {
		n, last := consecutiveFailures(st, r.start)
		if last == nil {
			err = fmt.Errorf("%w", ErrTooManyFailures)
			return nil
		}
		err = fmt.Errorf("%d %w: stopping the study (fix the trial and run again to resume): %w", n, ErrTooManyFailures,
			&TrialError{Trial: last.Number, Reason: last.Message, Output: last.Output})
		return nil
	})
	return err
}

// consecutiveFailures counts the trials finished since start that failed on their own, at the
// end of the finish order.
func consecutiveFailures(st *study.Study, since time.Time) (int, *study.Trial) {
	n, last := st.ConsecutiveFailures()
	if last == nil || last.Finished.Before(since) {
		return 0, nil
	}
	// Count only the failures of this run: a resumed study starts afresh.
	m := 0
	for _, t := range st.Trials {
		if t.State == study.Failed && !t.Lost && !t.Finished.Before(since) {
			m++
		}
	}
	return min(n, m), last
}

// heartbeats renews this worker's leases every heartbeat period, and four times as often
// looks for other workers' stale trials and fails them, so a killed worker's trials are
// failed within 1.5 + 0.25 heartbeat periods of its last heartbeat. It also cancels our own
// trials if another worker failed them (we were too slow to renew: a paused process).
func (r *Runner) heartbeats(ctx context.Context) {
	t := time.NewTicker(max(r.spec.Heartbeat/4, time.Millisecond))
	defer t.Stop()
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		beat := tick%4 == 0
		if !beat && !r.anyStale(ctx) {
			continue
		}
		r.mu.Lock()
		n := len(r.active)
		r.mu.Unlock()
		var lost []study.Trial
		err := r.j.Update(ctx, func(st *study.Study) ([]journal.Record, error) {
			lost = lost[:0]
			recs, renew := r.reclaim(st)
			if (beat && n > 0) || renew {
				recs = append(recs, journal.Record{Op: journal.OpHeartbeat, Worker: r.opts.Worker})
			}
			for _, rec := range recs {
				if rec.Op == journal.OpFinish {
					lost = append(lost, *st.Trial(*rec.Trial))
				}
			}
			return recs, nil
		})
		if err != nil {
			if ctx.Err() == nil {
				r.emit(Event{Kind: EventWarning, Message: fmt.Sprintf("heartbeat: %v", err)})
			}
			continue
		}
		for _, t := range lost {
			r.emit(Event{Kind: EventLost, Trial: t})
		}
		r.cancelLost()
	}
}

// anyStale reports, from a read-only look, whether some RUNNING trial's lease ran out.
func (r *Runner) anyStale(ctx context.Context) bool {
	stale := false
	_ = r.j.View(ctx, func(st *study.Study) error {
		stale = len(st.Stale(r.opts.Now())) > 0
		return nil
	})
	return stale
}

// cancelLost stops our trials that the journal no longer counts as running.
func (r *Runner) cancelLost() {
	_ = r.j.View(context.Background(), func(st *study.Study) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		for n, a := range r.active {
			if t := st.Trial(n); t != nil && t.State != study.Running && !a.lost {
				a.lost = true
				a.cancel(errLost)
			}
		}
		return nil
	})
}

// reclaim returns finish records failing the RUNNING trials whose lease ran out. A stale
// trial that this runner is still running is not failed: the process itself stalled (an
// overloaded machine, a long pause), and the trial is alive, so renew reports that a heartbeat
// should be written instead. Only another worker's silence makes a trial lost.
func (r *Runner) reclaim(st *study.Study) (recs []journal.Record, renew bool) {
	now := r.opts.Now()
	r.mu.Lock()
	mine := make(map[int]bool, len(r.active))
	for n, a := range r.active {
		mine[n] = !a.lost
	}
	r.mu.Unlock()
	for _, t := range st.Stale(now) {
		n := t.Number
		if t.Worker == r.opts.Worker && mine[n] {
			renew = true
			continue
		}
		recs = append(recs, journal.Record{Op: journal.OpFinish, Worker: r.opts.Worker, Trial: &n, State: study.Failed, Lost: true,
			Message: fmt.Sprintf("lost: worker %s sent no heartbeat for %s (last at %s)", t.Worker,
				now.Sub(t.Heartbeat).Round(time.Millisecond), t.Heartbeat.Format(time.RFC3339Nano)),
			DurationS: now.Sub(t.Started).Seconds()})
	}
	return recs, renew
}

// finite reports whether every value is a real number.
func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}
