package sampler

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// TPE is the tree-structured Parzen estimator with Optuna 3.1's defaults: 10 random startup
// trials, then 24 candidates drawn from the density of the good trials l(x) (the best
// min(⌈0.1·n⌉, 25)) and the one maximizing l(x)/g(x) kept. Pruned trials rank by how far they
// got, then by their last value. With a constant liar (on by default when trials run in
// parallel) RUNNING trials join the bad set, so concurrent workers spread out instead of
// proposing the same point.
//
// Unlike Optuna 3.1 it models the parameters jointly by default (parameters sharing the same
// `when:` conditions form one group), with per-dimension neighbour bandwidths; Multivariate
// false gives Optuna's independent TPE. The figures in docs/tune.md say why.
type TPE struct {
	seed         uint64
	space        *space.Space
	startup      int
	candidates   int
	multivariate bool
	constantLiar bool
	opts         parzenOpts
	random       *Random
	groups       [][]*space.Param
}

// NewTPE builds a TPE sampler; zero fields of cfg take the defaults.
func NewTPE(cfg Config, sp *space.Space) *TPE {
	t := &TPE{seed: cfg.Seed, space: sp, startup: cfg.StartupTrials, candidates: cfg.EICandidates,
		multivariate: cfg.Multivariate == nil || *cfg.Multivariate, constantLiar: cfg.Parallel,
		opts:   parzenOpts{priorWeight: cfg.PriorWeight, magicClip: true},
		random: &Random{Seed: cfg.Seed, Space: sp}}
	if cfg.ConstantLiar != nil {
		t.constantLiar = *cfg.ConstantLiar
	}
	if t.startup <= 0 {
		t.startup = 10
	}
	if t.candidates <= 0 {
		t.candidates = 24
	}
	if t.opts.priorWeight <= 0 {
		t.opts.priorWeight = 1
	}
	byWhen := map[string]int{}
	for i := range sp.Params {
		p := &sp.Params[i]
		k := ""
		if t.multivariate {
			k = conditionKey(p.When)
		} else {
			k = p.Name
		}
		g, ok := byWhen[k]
		if !ok {
			g = len(t.groups)
			byWhen[k] = g
			t.groups = append(t.groups, nil)
		}
		t.groups[g] = append(t.groups[g], p)
	}
	return t
}

// conditionKey identifies a set of `when:` clauses.
func conditionKey(cs []space.Condition) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Param + "=" + space.FormatList(c.Values)
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// observation is one trial as TPE sees it.
type observation struct {
	t       *study.Trial
	x       []float64 // internal value per space parameter, NaN when inactive
	step    float64   // −inf for complete, −last step for pruned, +inf for running
	loss    []float64 // sign·value per objective
	running bool
}

// gamma is the size of the good set.
func gamma(n int) int { return min(int(math.Ceil(0.1*float64(n))), 25) }

// Sample proposes trial n's parameters.
func (t *TPE) Sample(ctx context.Context, st *study.Study, n int) (space.Params, error) {
	obs := t.observations(st)
	done := 0
	for _, o := range obs {
		if !o.running {
			done++
		}
	}
	if done < t.startup {
		return t.random.Sample(ctx, st, n)
	}
	for i := range obs {
		obs[i].x = t.internalValues(obs[i].t)
	}
	below, above, wBelow := split(obs, gamma(done), st.MultiObjective())
	rng := trialRNG(t.seed, n, 1)
	out := make(space.Params, t.space.Len())
	// Groups come in declaration order of their first parameter, and conditions only refer to
	// earlier parameters, so a group's activity is known once the groups before it are drawn.
	for _, g := range t.groups {
		if !t.space.Active(t.space.Index(g[0].Name), out) {
			continue
		}
		for k, v := range t.sampleGroup(rng, g, below, above, wBelow) {
			out[k] = v
		}
	}
	return out, nil
}

func (t *TPE) observations(st *study.Study) []observation {
	var obs []observation
	for _, tr := range st.Trials {
		switch tr.State {
		case study.Complete:
			if len(tr.Values) != len(st.Objectives) {
				continue
			}
			o := observation{t: tr, step: math.Inf(-1), loss: st.Loss(tr)}
			if !tr.Feasible() && !st.MultiObjective() {
				// A trial that broke a constraint ranks after every feasible one (and every
				// pruned one), the least violating first. Several objectives: split ranks
				// by constrained domination.
				o.step, o.loss = math.MaxFloat64, []float64{tr.TotalViolation()}
			}
			obs = append(obs, o)
		case study.Pruned:
			if st.MultiObjective() {
				continue
			}
			o := observation{t: tr, step: 1, loss: []float64{0}}
			if last, ok := tr.LastValue(); ok {
				o.step = -float64(last.Step)
				o.loss = []float64{st.Objectives[0].Sign() * last.Value}
				if math.IsNaN(last.Value) {
					o.loss[0] = math.Inf(1)
				}
			}
			obs = append(obs, o)
		case study.Running:
			if !t.constantLiar || st.MultiObjective() {
				continue
			}
			inf := make([]float64, len(st.Objectives))
			for i := range inf {
				inf[i] = math.Inf(1)
			}
			obs = append(obs, observation{t: tr, step: math.Inf(1), loss: inf, running: true})
		}
	}
	return obs
}

// split divides the observations into the good set (nBelow of them) and the rest, both in
// trial order. For several objectives the good set is filled by non-domination rank, the last
// rank by crowding distance, and its members are weighted by their crowding (boundary points
// and sparse regions weigh more).
func split(obs []observation, nBelow int, multi bool) (below, above []observation, wBelow []float64) {
	idx := make([]int, len(obs))
	for i := range idx {
		idx[i] = i
	}
	if !multi {
		slices.SortStableFunc(idx, func(a, b int) int {
			oa, ob := obs[a], obs[b]
			if c := cmpFloat(oa.step, ob.step); c != 0 {
				return c
			}
			return cmpFloat(oa.loss[0], ob.loss[0])
		})
	} else {
		var losses [][]float64
		var feas []feasibility
		var live []int
		for _, i := range idx {
			if !obs[i].running {
				live = append(live, i)
				losses = append(losses, obs[i].loss)
				feas = append(feas, trialFeasibility(obs[i].t))
			}
		}
		order := rankOrder(losses, feas)
		idx = idx[:0]
		for _, j := range order {
			idx = append(idx, live[j])
		}
		for i := range obs {
			if obs[i].running {
				idx = append(idx, i)
			}
		}
	}
	nBelow = min(nBelow, len(idx))
	good := slices.Clone(idx[:nBelow])
	slices.Sort(good)
	isGood := make(map[int]bool, len(good))
	for _, i := range good {
		isGood[i] = true
		below = append(below, obs[i])
	}
	for i := range obs {
		if !isGood[i] {
			above = append(above, obs[i])
		}
	}
	if multi && len(below) > 1 {
		losses := make([][]float64, len(below))
		for i, o := range below {
			losses[i] = o.loss
		}
		cd := crowding(losses)
		maxFinite := 0.0
		for _, v := range cd {
			if !math.IsInf(v, 1) {
				maxFinite = math.Max(maxFinite, v)
			}
		}
		wBelow = make([]float64, len(cd))
		for i, v := range cd {
			switch {
			case math.IsInf(v, 1) || maxFinite == 0:
				wBelow[i] = 1
			default:
				wBelow[i] = math.Max(1e-12, v/maxFinite)
			}
		}
	}
	return below, above, wBelow
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sampleGroup samples params jointly: candidates from l, the best l/g kept.
func (t *TPE) sampleGroup(r *rand.Rand, params []*space.Param, below, above []observation, wBelow []float64) space.Params {
	lObs, lW := t.matrix(params, below, wBelow)
	gObs, _ := t.matrix(params, above, nil)
	l := newParzen(lObs, params, t.opts, lW)
	g := newParzen(gObs, params, t.opts, nil)
	cands := l.sample(r, t.candidates)
	ll, lg := l.logPDF(cands), g.logPDF(cands)
	best := 0
	for i := range cands {
		if ll[i]-lg[i] > ll[best]-lg[best] {
			best = i
		}
	}
	out := make(space.Params, len(params))
	for d, p := range params {
		out[p.Name] = p.External(cands[best][d])
	}
	return out
}

// internalValues is a trial's parameters in internal form, indexed like the space.
func (t *TPE) internalValues(tr *study.Trial) []float64 {
	x := make([]float64, t.space.Len())
	for i := range t.space.Params {
		p := &t.space.Params[i]
		if v, ok := tr.Params[p.Name]; ok {
			x[i] = p.Internal(v)
		} else {
			x[i] = math.NaN()
		}
	}
	return x
}

// matrix extracts the observations that have every one of params (internal values), with their
// weights when weights are given. Rows share one backing array.
func (t *TPE) matrix(params []*space.Param, obs []observation, weights []float64) ([][]float64, []float64) {
	idx := make([]int, len(params))
	for d, p := range params {
		idx[d] = t.space.Index(p.Name)
	}
	flat := make([]float64, 0, len(obs)*len(params))
	var rows [][]float64
	var w []float64
	for i, o := range obs {
		start := len(flat)
		ok := true
		for _, k := range idx {
			v := o.x[k]
			if math.IsNaN(v) {
				ok = false
				break
			}
			flat = append(flat, v)
		}
		if !ok {
			flat = flat[:start]
			continue
		}
		rows = append(rows, flat[start:len(flat):len(flat)])
		if weights != nil {
			w = append(w, weights[i])
		}
	}
	return rows, w
}
