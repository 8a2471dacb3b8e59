package tune

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlops-dev/mlops/internal/tune/space"
)

// ErrPruned is returned by TrialRun.Report when the pruner stops the trial; an objective
// returns it (or an error wrapping it) to end the trial as PRUNED.
var ErrPruned = errors.New("pruned")

// errLost reports that the journal already ended this trial (its worker was declared lost).
var errLost = errors.New("the trial was failed by another worker after a heartbeat gap")

// Objective evaluates one trial. It reports intermediate values through t.Report (when it has
// them) and returns the final metrics; an error fails the trial with its message.
type Objective interface {
	Run(ctx context.Context, t *TrialRun) (Result, error)
}

// ObjectiveFunc adapts a function to Objective.
type ObjectiveFunc func(ctx context.Context, t *TrialRun) (Result, error)

// Run calls f.
func (f ObjectiveFunc) Run(ctx context.Context, t *TrialRun) (Result, error) { return f(ctx, t) }

// TrialRun is what an objective knows about its trial.
type TrialRun struct {
	Number int
	Params space.Params
	// Dir is a folder for the trial's files (created before Run).
	Dir string
	// report writes an intermediate value and asks the pruner.
	report func(ctx context.Context, step int64, value float64) error
}

// Report records the first objective's value at step (an epoch, an iteration) and returns
// ErrPruned if the pruner decides the trial should stop.
func (t *TrialRun) Report(ctx context.Context, step int64, value float64) error {
	if t.report == nil {
		return nil
	}
	return t.report(ctx, step, value)
}

// Result is what a finished trial produced.
type Result struct {
	// Metrics are the final values by name; every objective must be among them.
	Metrics map[string]float64
	// Artifact is the model file the trial produced, if any.
	Artifact string
	// ExitCode is a command trial's exit status.
	ExitCode *int
	// Output is the tail of a command trial's output, kept in the journal when it fails.
	Output string
}

// TrialError is a failed trial's reason with the tail of its output.
type TrialError struct {
	Trial  int
	Reason string
	Output string
}

func (e *TrialError) Error() string {
	if e.Output == "" {
		return fmt.Sprintf("trial %d: %s", e.Trial, e.Reason)
	}
	return fmt.Sprintf("trial %d: %s; last output:\n%s", e.Trial, e.Reason, e.Output)
}
