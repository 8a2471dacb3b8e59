package sampler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"testing"

	"github.com/mlops-dev/mlops/internal/tune/benchfn"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

var minimize = []study.Objective{{Metric: "y", Direction: study.Minimize}}

// optimize runs n sequential trials of f with s and returns the study.
func optimize(t testing.TB, s Sampler, f benchfn.Func, n int) *study.Study {
	t.Helper()
	st := &study.Study{Objectives: minimize, Space: f.Space}
	for i := 0; i < n; i++ {
		p, err := s.Sample(context.Background(), st, i)
		if err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
		v, _ := f.Eval(p, nil)
		st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Complete, Params: p, Values: []float64{v}})
	}
	return st
}

func mustNew(t testing.TB, cfg Config, sp *space.Space) Sampler {
	t.Helper()
	s, err := New(cfg, sp, minimize)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSameSeedSameSequence: at parallelism 1 a seed fixes the whole parameter sequence, and a
// fresh sampler (a resumed study, another worker) continues it exactly.
func TestSameSeedSameSequence(t *testing.T) {
	f, _ := benchfn.Get("branin")
	for _, name := range []string{"random", "tpe", "cmaes", "nsga2"} {
		cfg := Config{Name: name, Seed: 42, Population: 8}
		a := optimize(t, mustNew(t, cfg, f.Space), f, 40)
		b := optimize(t, mustNew(t, cfg, f.Space), f, 40)
		for i := range a.Trials {
			if !maps.Equal(a.Trials[i].Params, b.Trials[i].Params) {
				t.Fatalf("%s: trial %d differs: %v vs %v", name, i, a.Trials[i].Params, b.Trials[i].Params)
			}
		}
		// Resume: a new sampler given the first 25 trials proposes trial 25 as before.
		st := &study.Study{Objectives: minimize, Space: f.Space, Trials: a.Trials[:25]}
		p, err := mustNew(t, cfg, f.Space).Sample(context.Background(), st, 25)
		if err != nil || !maps.Equal(p, a.Trials[25].Params) {
			t.Fatalf("%s: resumed trial 25 = %v, want %v (%v)", name, p, a.Trials[25].Params, err)
		}
		cfg.Seed = 43
		c := optimize(t, mustNew(t, cfg, f.Space), f, 5)
		if maps.Equal(c.Trials[0].Params, a.Trials[0].Params) {
			t.Fatalf("%s: another seed gives the same first trial", name)
		}
	}
}

// TestTPEBeatsRandom: on Branin and Hartmann-6 TPE's median best over 9 seeds after 60 trials
// is clearly better than random search's (the sampler-quality script measures it properly).
func TestTPEBeatsRandom(t *testing.T) {
	for _, fn := range []string{"branin", "hartmann6"} {
		f, _ := benchfn.Get(fn)
		med := func(cfg Config) float64 {
			var best []float64
			for seed := uint64(0); seed < 9; seed++ {
				cfg.Seed = seed
				best = append(best, optimize(t, mustNew(t, cfg, f.Space), f, 60).Best().Values[0])
			}
			slices.Sort(best)
			return best[4]
		}
		rnd, tpe, ind := med(Config{Name: "random"}), med(Config{Name: "tpe"}), med(Config{Name: "tpe", Multivariate: new(false)})
		if !(tpe < rnd && ind < rnd) || tpe-f.Min > 0.7*(rnd-f.Min) {
			t.Errorf("%s: median best random %.4f, tpe %.4f, independent tpe %.4f (minimum %.4f)", fn, rnd, tpe, ind, f.Min)
		}
	}
}

func TestCMAESConverges(t *testing.T) {
	f, _ := benchfn.Get("branin")
	st := optimize(t, mustNew(t, Config{Name: "cmaes", Seed: 3}, f.Space), f, 150)
	if b := st.Best().Values[0]; b > 0.41 {
		t.Fatalf("cmaes best after 150 trials: %v (minimum 0.3979)", b)
	}
}

// TestCMAESWaitsForItsGeneration: in parallel, a generation cannot start before the previous
// one has its values.
func TestCMAESWaitsForItsGeneration(t *testing.T) {
	f, _ := benchfn.Get("branin")
	s := mustNew(t, Config{Name: "cmaes", Seed: 1, Population: 4}, f.Space)
	st := &study.Study{Objectives: minimize, Space: f.Space}
	for i := 0; i < 4; i++ {
		p, err := s.Sample(context.Background(), st, i)
		if err != nil {
			t.Fatal(err)
		}
		st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Running, Params: p})
	}
	if _, err := s.Sample(context.Background(), st, 4); !errors.Is(err, ErrWait) {
		t.Fatalf("sample into generation 1 with generation 0 running: %v", err)
	}
	for _, tr := range st.Trials {
		tr.State, tr.Values = study.Complete, []float64{benchfn.Branin(tr.Params["x"].(float64), tr.Params["y"].(float64))}
	}
	if _, err := s.Sample(context.Background(), st, 4); err != nil {
		t.Fatal(err)
	}
}

func condSpace(t *testing.T) *space.Space {
	sp, err := space.New([]space.Param{
		{Name: "opt", Type: space.Categorical, Choices: []any{"sgd", "adam"}},
		{Name: "momentum", Type: space.Float, Low: 0.5, High: 0.9, Step: 0.2, When: []space.Condition{{Param: "opt", Values: []any{"sgd"}}}},
		{Name: "layers", Type: space.Int, Low: 1, High: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestGridEveryPointOnce: conditional parameters only multiply where active, every point is
// proposed once, a lost trial's point comes back, and then the grid is exhausted.
func TestGridEveryPointOnce(t *testing.T) {
	sp := condSpace(t)
	g, err := NewGrid(sp)
	if err != nil {
		t.Fatal(err)
	}
	if g.Size() != (3+1)*3 { // sgd × 3 momenta + adam, times 3 layer counts
		t.Fatalf("grid size %d", g.Size())
	}
	st := &study.Study{Objectives: minimize, Space: sp}
	seen := map[string]bool{}
	for i := 0; i < g.Size(); i++ {
		p, err := g.Sample(context.Background(), st, i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sp.Normalize(p); err != nil {
			t.Fatalf("grid point %v: %v", p, err)
		}
		k := fmt.Sprint(p)
		if seen[k] {
			t.Fatalf("point %v proposed twice", p)
		}
		seen[k] = true
		st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Running, Params: p})
	}
	if _, err := g.Sample(context.Background(), st, 12); !errors.Is(err, ErrExhausted) {
		t.Fatalf("after every point: %v", err)
	}
	st.Trials[5].State, st.Trials[5].Lost = study.Failed, true
	p, err := g.Sample(context.Background(), st, 12)
	if err != nil || !maps.Equal(p, st.Trials[5].Params) {
		t.Fatalf("lost point not offered again: %v %v", p, err)
	}
	if _, err := NewGrid(mustSpaceT(t, space.Param{Name: "lr", Type: space.Float, Low: 0, High: 1})); err == nil {
		t.Fatal("grid over a continuous float accepted")
	}
}

func mustSpaceT(t *testing.T, ps ...space.Param) *space.Space {
	sp, err := space.New(ps)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestConditionalSpacesStayValid: every sampler only proposes legal points of a conditional
// space, and TPE learns the conditional parameter.
func TestConditionalSpacesStayValid(t *testing.T) {
	sp := condSpace(t)
	obj := func(p space.Params) float64 {
		v := p["layers"].(float64)
		if p["opt"] == "sgd" {
			v += math.Abs(p["momentum"].(float64) - 0.7)
		} else {
			v += 0.5
		}
		return v
	}
	for _, name := range []string{"random", "tpe", "nsga2"} {
		s := mustNew(t, Config{Name: name, Seed: 5, Population: 6}, sp)
		st := &study.Study{Objectives: minimize, Space: sp}
		for i := 0; i < 40; i++ {
			p, err := s.Sample(context.Background(), st, i)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sp.Normalize(p); err != nil {
				t.Fatalf("%s trial %d: %v: %v", name, i, p, err)
			}
			st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Complete, Params: p, Values: []float64{obj(p)}})
		}
		if b := st.Best(); b.Values[0] != 1 {
			t.Errorf("%s: best %v at %v, want 1 (opt sgd, momentum 0.7, layers 1)", name, b.Values[0], b.Params)
		}
	}
}

// TestConstantLiarSpreadsParallelTrials: with 8 trials running at once, the liar (running
// trials count as bad) pushes each proposal away from the running ones; without it every
// worker proposes near the same best guess. Measured as the mean distance from each proposal
// to its nearest other proposal (in units of the parameter ranges), over 5 seeds.
func TestConstantLiarSpreadsParallelTrials(t *testing.T) {
	f, _ := benchfn.Get("branin")
	spread := func(liar bool) float64 {
		var total float64
		for seed := uint64(0); seed < 5; seed++ {
			base := optimize(t, mustNew(t, Config{Name: "tpe", Seed: seed}, f.Space), f, 20)
			s := mustNew(t, Config{Name: "tpe", Seed: seed, ConstantLiar: &liar}, f.Space)
			st := &study.Study{Objectives: minimize, Space: f.Space, Trials: slices.Clone(base.Trials)}
			var pts [][2]float64
			for i := 20; i < 28; i++ {
				p, err := s.Sample(context.Background(), st, i)
				if err != nil {
					t.Fatal(err)
				}
				pts = append(pts, [2]float64{(p["x"].(float64) + 5) / 15, p["y"].(float64) / 15})
				st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Running, Params: p})
			}
			for i, a := range pts {
				nearest := math.Inf(1)
				for j, b := range pts {
					if i != j {
						nearest = math.Min(nearest, math.Hypot(a[0]-b[0], a[1]-b[1]))
					}
				}
				total += nearest
			}
		}
		return total / 40
	}
	with, without := spread(true), spread(false)
	t.Logf("mean nearest-neighbour distance: %.4f with the constant liar, %.4f without", with, without)
	if with < 1.5*without {
		t.Fatalf("the constant liar does not spread parallel proposals: %.4f vs %.4f", with, without)
	}
}

// TestNSGA2FindsParetoFront on a two-objective problem whose front is x ∈ [0, 1] (y = 0):
// f1 = x² + y², f2 = (x−1)² + y².
func TestNSGA2FindsParetoFront(t *testing.T) {
	sp := mustSpaceT(t, space.Param{Name: "x", Type: space.Float, Low: -2, High: 3}, space.Param{Name: "y", Type: space.Float, Low: -2, High: 2})
	objs := []study.Objective{{Metric: "f1", Direction: study.Minimize}, {Metric: "f2", Direction: study.Minimize}}
	for _, name := range []string{"nsga2", "tpe"} {
		s, err := New(Config{Name: name, Seed: 2, Population: 20}, sp, objs)
		if err != nil {
			t.Fatal(err)
		}
		st := &study.Study{Objectives: objs, Space: sp}
		for i := 0; i < 200; i++ {
			p, err := s.Sample(context.Background(), st, i)
			if err != nil {
				t.Fatal(err)
			}
			x, y := p["x"].(float64), p["y"].(float64)
			st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Complete, Params: p, Values: []float64{x*x + y*y, (x-1)*(x-1) + y*y}})
		}
		front := st.Pareto()
		near := 0
		for _, tr := range front {
			if math.Abs(tr.Params["y"].(float64)) < 0.2 && tr.Params["x"].(float64) > -0.1 && tr.Params["x"].(float64) < 1.1 {
				near++
			}
		}
		if len(front) < 8 || near < len(front)*8/10 {
			t.Errorf("%s: %d points on the front, %d of them near the true front", name, len(front), near)
		}
	}
}

func TestUnknownSampler(t *testing.T) {
	f, _ := benchfn.Get("branin")
	if _, err := New(Config{Name: "bayes"}, f.Space, minimize); err == nil {
		t.Fatal("unknown sampler accepted")
	}
	two := []study.Objective{{Metric: "a", Direction: study.Minimize}, {Metric: "b", Direction: study.Maximize}}
	if _, err := New(Config{Name: "cmaes"}, f.Space, two); err == nil {
		t.Fatal("cmaes accepted two objectives")
	}
}

// TestGridShuffle: shuffle: true visits every point once, in an order that depends only on
// the seed (so workers agree), and differs from declaration order and between seeds.
func TestGridShuffle(t *testing.T) {
	sp := condSpace(t)
	order := func(seed uint64, shuffle bool) string {
		s, err := New(Config{Name: "grid", Seed: seed, Shuffle: shuffle}, sp, minimize)
		if err != nil {
			t.Fatal(err)
		}
		st := &study.Study{Objectives: minimize, Space: sp}
		var keys []string
		seen := map[string]bool{}
		for i := 0; ; i++ {
			p, err := s.Sample(context.Background(), st, i)
			if err == ErrExhausted {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			k := fmt.Sprint(p)
			if seen[k] {
				t.Fatalf("point %v proposed twice", p)
			}
			seen[k] = true
			keys = append(keys, k)
			st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Complete, Params: p, Values: []float64{0}})
		}
		if len(keys) != 12 {
			t.Fatalf("%d points, want 12", len(keys))
		}
		return fmt.Sprint(keys)
	}
	plain, a, a2, b := order(1, false), order(1, true), order(1, true), order(2, true)
	if a != a2 {
		t.Fatal("the same seed gave two orders")
	}
	if a == plain || a == b {
		t.Fatalf("shuffled orders: declaration %s\nseed 1 %s\nseed 2 %s", plain, a, b)
	}
}
