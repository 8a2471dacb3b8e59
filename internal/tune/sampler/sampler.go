// Package sampler proposes the parameters of the next trial from the study's history: grid,
// random, TPE (Optuna's defaults, optionally multivariate, with a constant liar for parallel
// workers), CMA-ES, and NSGA-II for several objectives.
//
// Every sampler is a pure function of (seed, trial number, history): it keeps no state between
// calls, so any worker that has replayed the same journal proposes the same point, a resumed
// study continues exactly where it stopped, and the same seed gives the same parameter
// sequence when trials run one at a time.
package sampler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// Sampler proposes parameters.
type Sampler interface {
	// Sample proposes the parameters of trial number n. st holds every trial so far, RUNNING
	// ones included; n is the next trial number.
	Sample(ctx context.Context, st *study.Study, n int) (space.Params, error)
}

var (
	// ErrExhausted reports that a grid has no untried point left.
	ErrExhausted = errors.New("every grid point has been tried")
	// ErrWait asks the caller to try again once running trials finish (CMA-ES and NSGA-II
	// between generations when too many trials are still running).
	ErrWait = errors.New("waiting for running trials")
)

// Config selects and tunes a sampler. Zero values mean the defaults.
type Config struct {
	Name string // grid, random, tpe, cmaes, nsga2 (motpe is tpe)
	Seed uint64

	// Grid: visit the points in an order drawn from Seed instead of declaration order.
	Shuffle bool

	// TPE (Optuna's names and defaults).
	StartupTrials int   // random trials before TPE models anything (10)
	EICandidates  int   // candidates drawn from l(x) and ranked by l(x)/g(x) (24)
	Multivariate  *bool // model the parameters jointly (default true; false: Optuna's independent TPE)
	ConstantLiar  *bool // give RUNNING trials the worst value (default: on when Parallel)
	PriorWeight   float64
	Parallel      bool // trials run concurrently (workers or parallelism > 1)

	// CMA-ES.
	Sigma0     float64 // initial step size in the unit cube (1/6)
	Population int     // CMA-ES λ (4+3·ln d) or NSGA-II population (50)

	// NSGA-II.
	MutationProb  float64 // per parameter (1/d)
	CrossoverProb float64 // 0.9
	SwappingProb  float64 // uniform crossover's per-parameter swap probability (0.5)
}

// Names lists the accepted sampler names.
var Names = []string{"grid", "random", "tpe", "motpe", "cmaes", "nsga2"}

// New builds the sampler cfg names for the space and objectives.
func New(cfg Config, sp *space.Space, objectives []study.Objective) (Sampler, error) {
	switch cfg.Name {
	case "random":
		return &Random{Seed: cfg.Seed, Space: sp}, nil
	case "grid":
		g, err := NewGrid(sp)
		if err == nil && cfg.Shuffle {
			g.shuffle(cfg.Seed)
		}
		return g, err
	case "tpe", "motpe", "":
		return NewTPE(cfg, sp), nil
	case "cmaes":
		if len(objectives) > 1 {
			return nil, fmt.Errorf("sampler cmaes optimizes one objective; use nsga2 or tpe for %d objectives", len(objectives))
		}
		return NewCMAES(cfg, sp)
	case "nsga2":
		return NewNSGA2(cfg, sp), nil
	}
	return nil, fmt.Errorf("unknown sampler %q: use grid, random, tpe, cmaes or nsga2 (motpe is tpe with several objectives)", cfg.Name)
}

// trialRNG is the random stream of trial n: independent of every other trial's, so proposals
// do not depend on how many draws earlier calls made (or on which worker made them).
func trialRNG(seed uint64, n int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed^(stream*0x9e3779b97f4a7c15), uint64(n)))
}

// Random samples every active parameter uniformly.
type Random struct {
	Seed  uint64
	Space *space.Space
}

// Sample draws the parameters of trial n.
func (r *Random) Sample(_ context.Context, _ *study.Study, n int) (space.Params, error) {
	return sampleUniform(r.Space, trialRNG(r.Seed, n, 0), nil), nil
}

// sampleUniform draws every active parameter not already in fixed, in declaration order.
func sampleUniform(sp *space.Space, rng *rand.Rand, fixed space.Params) space.Params {
	out := make(space.Params, sp.Len())
	for i := range sp.Params {
		p := &sp.Params[i]
		if !sp.Active(i, out) {
			continue
		}
		if v, ok := fixed[p.Name]; ok {
			out[p.Name] = v
			continue
		}
		out[p.Name] = p.Uniform(rng)
	}
	return out
}
