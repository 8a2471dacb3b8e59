package sampler

import (
	"context"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// NSGA2 is the non-dominated sorting genetic algorithm II with Optuna's defaults: population
// 50, uniform crossover with probability 0.9 (each parameter swapped with probability 0.5),
// mutation of each parameter with probability 1/d by a fresh uniform draw, parents picked by
// binary tournament on (front, crowding distance).
//
// Like every sampler here it keeps no state: trial k belongs to generation k/population; the
// first generation is random; the parents of a generation are the best population of all
// finished trials of earlier generations (elitist μ+λ selection by front, then crowding
// distance). Trials still running in earlier generations are simply not parents yet. With
// constraints, fronts use Deb's constrained domination: a feasible trial dominates an
// infeasible one, and of two infeasible ones the smaller total violation dominates.
type NSGA2 struct {
	seed                  uint64
	space                 *space.Space
	pop                   int
	mutation, cross, swap float64
}

// NewNSGA2 builds the sampler; zero fields of cfg take the defaults.
func NewNSGA2(cfg Config, sp *space.Space) *NSGA2 {
	g := &NSGA2{seed: cfg.Seed, space: sp, pop: cfg.Population, mutation: cfg.MutationProb, cross: cfg.CrossoverProb, swap: cfg.SwappingProb}
	if g.pop <= 1 {
		g.pop = 50
	}
	if g.mutation <= 0 {
		g.mutation = 1 / float64(sp.Len())
	}
	if g.cross <= 0 {
		g.cross = 0.9
	}
	if g.swap <= 0 {
		g.swap = 0.5
	}
	return g
}

// Sample proposes trial n's parameters.
func (g *NSGA2) Sample(_ context.Context, st *study.Study, n int) (space.Params, error) {
	members := 0
	for _, t := range st.Trials {
		if t.RetryOf == nil && t.Number < n {
			members++
		}
	}
	gen := members / g.pop
	rng := trialRNG(g.seed, n, 3)
	if gen == 0 {
		return sampleUniform(g.space, rng, nil), nil
	}
	// Parents: finished trials of earlier generations.
	var cand []*study.Trial
	idx := 0
	for _, t := range st.Trials {
		if t.RetryOf != nil || t.Number >= n {
			continue
		}
		if idx/g.pop < gen && t.State == study.Complete && len(t.Values) == len(st.Objectives) {
			cand = append(cand, t)
		}
		idx++
	}
	if len(cand) < 2 {
		return sampleUniform(g.space, rng, nil), nil
	}
	losses := make([][]float64, len(cand))
	feas := make([]feasibility, len(cand))
	for i, t := range cand {
		losses[i], feas[i] = st.Loss(t), trialFeasibility(t)
	}
	order := rankOrder(losses, feas)
	if len(order) > g.pop {
		order = order[:g.pop]
	}
	// order is best first, so a smaller position wins the tournament.
	tournament := func() *study.Trial {
		a, b := rng.IntN(len(order)), rng.IntN(len(order))
		return cand[order[min(a, b)]]
	}
	p1, p2 := tournament(), tournament()
	child := make(space.Params, g.space.Len())
	crossover := rng.Float64() < g.cross
	for i := range g.space.Params {
		p := &g.space.Params[i]
		v, ok := p1.Params[p.Name]
		if crossover && rng.Float64() < g.swap {
			v, ok = p2.Params[p.Name]
		}
		if ok && rng.Float64() >= g.mutation {
			child[p.Name] = v
		}
	}
	return sampleUniform(g.space, rng, child), nil
}
