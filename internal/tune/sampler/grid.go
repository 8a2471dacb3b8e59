package sampler

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// maxGrid bounds the number of grid points, so a typo (a step of 1e-9) fails fast.
const maxGrid = 1_000_000

// Grid visits every combination of the parameters' values once, in declaration order (the last
// parameter varies fastest), or with Config.Shuffle in a seeded random order. Conditional parameters only multiply the points where they are
// active. A point is taken while some trial with it is running, complete, pruned or failed on
// its own; a point whose trial was lost with its worker is offered again. Because proposals are
// made inside the journal's write transaction, workers never get the same point twice.
type Grid struct {
	space  *space.Space
	points []space.Params
}

// NewGrid enumerates the grid; every parameter must be discrete (int, categorical, a stepped
// float, or one with grid: points).
func NewGrid(sp *space.Space) (*Grid, error) {
	for i := range sp.Params {
		p := &sp.Params[i]
		if p.Values() == nil {
			return nil, fmt.Errorf("sampler grid: parameter %s is a continuous float: give it step: or grid: [v1, v2, ...]", p.Name)
		}
	}
	g := &Grid{space: sp}
	var walk func(i int, cur space.Params) error
	walk = func(i int, cur space.Params) error {
		if i == sp.Len() {
			if len(g.points) >= maxGrid {
				return fmt.Errorf("sampler grid: more than %d points; coarsen the steps or use tpe or random", maxGrid)
			}
			g.points = append(g.points, maps.Clone(cur))
			return nil
		}
		if !sp.Active(i, cur) {
			return walk(i+1, cur)
		}
		p := &sp.Params[i]
		for _, v := range p.Values() {
			cur[p.Name] = v
			if err := walk(i+1, cur); err != nil {
				return err
			}
		}
		delete(cur, p.Name)
		return nil
	}
	if err := walk(0, space.Params{}); err != nil {
		return nil, err
	}
	return g, nil
}

// shuffle puts the points in an order drawn from seed: the same for every worker of a study
// (the seed is the journal's), and one that does not favour the first declared values —
// which matters to a pruner such as ASHA, whose early trials always continue.
func (g *Grid) shuffle(seed uint64) {
	rand.New(rand.NewPCG(seed, 0x67726964)).Shuffle(len(g.points), func(i, j int) {
		g.points[i], g.points[j] = g.points[j], g.points[i]
	})
}

// Size is the number of grid points.
func (g *Grid) Size() int { return len(g.points) }

// Sample returns the first grid point no trial holds.
func (g *Grid) Sample(_ context.Context, st *study.Study, _ int) (space.Params, error) {
	taken := make(map[string]bool, len(st.Trials))
	for _, t := range st.Trials {
		if t.State == study.Failed && t.Lost {
			continue
		}
		taken[key(g.space, t.Params)] = true
	}
	for _, p := range g.points {
		if !taken[key(g.space, p)] {
			return maps.Clone(p), nil
		}
	}
	return nil, ErrExhausted
}

// key is a canonical string for a point.
func key(sp *space.Space, p space.Params) string {
	b := make([]byte, 0, 64)
	for i := range sp.Params {
		v, ok := p[sp.Params[i].Name]
		if !ok {
			b = append(b, 0)
			continue
		}
		b = fmt.Appendf(b, "%T:%v\x00", v, v)
	}
	return string(b)
}
