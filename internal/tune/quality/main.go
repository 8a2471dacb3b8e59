// Command quality runs mlops' samplers on the benchmark functions for many seeds and prints
// the true value at the best observed trial after given trial counts, one JSON object per
// study. compare.py runs it beside Debian's Optuna 3.1 on the same functions and budgets and
// prints both.
//
//	go run ./internal/tune/quality -funcs branin,hartmann6 -samplers random,tpe -seeds 20 -trials 50,100
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/benchfn"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

type result struct {
	Impl     string             `json:"impl"`
	Sampler  string             `json:"sampler"`
	Func     string             `json:"func"`
	Seed     int                `json:"seed"`
	Best     map[string]float64 `json:"best"`      // trials → true value at the best observed trial
	SamplerS float64            `json:"sampler_s"` // CPU time spent in Sample
}

func main() {
	funcs := flag.String("funcs", "branin,hartmann6,noisy-branin,noisy-hartmann6", "test functions")
	samplers := flag.String("samplers", "random,tpe,tpe-independent,cmaes", "samplers (tpe-independent: TPE with multivariate false)")
	seeds := flag.Int("seeds", 20, "seeds per sampler and function (0..N-1)")
	seed0 := flag.Int("seed0", 0, "first seed")
	trialsFlag := flag.String("trials", "50,100", "report the best value after these many trials")
	overhead := flag.Bool("overhead", false, "instead: time 50 TPE suggestions with 1,000 completed trials of 10 parameters")
	flag.Parse()
	if *overhead {
		measureOverhead()
		return
	}
	var checkpoints []int
	for _, s := range strings.Split(*trialsFlag, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bad -trials %q\n", s)
			os.Exit(2)
		}
		checkpoints = append(checkpoints, n)
	}
	total := slices.Max(checkpoints)
	enc := json.NewEncoder(os.Stdout)
	for _, fn := range strings.Split(*funcs, ",") {
		f, err := benchfn.Get(fn)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for _, sname := range strings.Split(*samplers, ",") {
			for seed := *seed0; seed < *seed0+*seeds; seed++ {
				r, err := run(f, sname, uint64(seed), total, checkpoints)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				if err := enc.Encode(r); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
	}
}

func run(f benchfn.Func, sname string, seed uint64, total int, checkpoints []int) (result, error) {
	cfg := sampler.Config{Name: sname, Seed: seed}
	switch sname {
	case "tpe-independent": // Optuna 3.1's default model
		cfg.Name, cfg.Multivariate = "tpe", new(false)
	}
	st := &study.Study{Name: "bench", Objectives: []study.Objective{{Metric: "y", Direction: study.Minimize}}, Space: f.Space}
	s, err := sampler.New(cfg, f.Space, st.Objectives)
	if err != nil {
		return result{}, err
	}
	noise := rand.New(rand.NewPCG(seed, 12345))
	res := result{Impl: "mlops", Sampler: sname, Func: f.Name, Seed: int(seed), Best: map[string]float64{}}
	bestObs, bestTrue := math.Inf(1), math.NaN()
	var spent time.Duration
	for n := 0; n < total; n++ {
		t0 := cpuTime()
		p, err := s.Sample(context.Background(), st, n)
		spent += cpuTime() - t0
		if err != nil {
			return res, fmt.Errorf("%s %s seed %d trial %d: %w", sname, f.Name, seed, n, err)
		}
		obs, truth := f.Eval(p, noise)
		st.Trials = append(st.Trials, &study.Trial{Number: n, State: study.Complete, Params: p, Values: []float64{obs}})
		if obs < bestObs {
			bestObs, bestTrue = obs, truth
		}
		if slices.Contains(checkpoints, n+1) {
			res.Best[strconv.Itoa(n+1)] = bestTrue
		}
	}
	res.SamplerS = spent.Seconds()
	return res, nil
}

// measureOverhead prints the median and p99 CPU time of a TPE suggestion with 1,000 completed
// trials of 10 parameters (a sphere on [−5, 5]¹⁰), jointly and independently modelled.
func measureOverhead() {
	ps := make([]space.Param, 10)
	for i := range ps {
		ps[i] = space.Param{Name: fmt.Sprintf("p%d", i), Type: space.Float, Low: -5, High: 5}
	}
	sp, _ := space.New(ps)
	st := &study.Study{Objectives: []study.Objective{{Metric: "y", Direction: study.Minimize}}, Space: sp}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 1000; i++ {
		p := space.Params{}
		var v float64
		for _, q := range ps {
			x := -5 + 10*rng.Float64()
			p[q.Name], v = x, v+x*x
		}
		st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Complete, Params: p, Values: []float64{v}})
	}
	enc := json.NewEncoder(os.Stdout)
	for _, mv := range []bool{true, false} {
		s := sampler.NewTPE(sampler.Config{Seed: 1, Multivariate: &mv}, sp)
		var ds []float64
		for n := 0; n < 50; n++ {
			c0 := cpuTime()
			if _, err := s.Sample(context.Background(), st, 1000+n); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			ds = append(ds, (cpuTime() - c0).Seconds())
		}
		slices.Sort(ds)
		if err := enc.Encode(map[string]any{"impl": "mlops", "multivariate": mv, "p50_s": ds[len(ds)/2], "p99_s": ds[len(ds)*99/100]}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
