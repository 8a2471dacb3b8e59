package sampler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/benchfn"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// history returns a study of n completed trials over d float parameters (a sphere).
func history(b *testing.B, n, d int) *study.Study {
	ps := make([]space.Param, d)
	for i := range ps {
		ps[i] = space.Param{Name: fmt.Sprintf("p%d", i), Type: space.Float, Low: -5, High: 5}
	}
	sp, err := space.New(ps)
	if err != nil {
		b.Fatal(err)
	}
	st := &study.Study{Objectives: minimize, Space: sp}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < n; i++ {
		p := space.Params{}
		var v float64
		for j := range ps {
			x := -5 + 10*rng.Float64()
			p[ps[j].Name] = x
			v += x * x
		}
		st.Trials = append(st.Trials, &study.Trial{Number: i, State: study.Complete, Params: p, Values: []float64{v}})
	}
	return st
}

// BenchmarkTPESuggestion1000x10 times one TPE proposal with 1,000 completed trials and 10
// parameters (the bound: p99 ≤ 10 ms), jointly and independently modelled.
func BenchmarkTPESuggestion1000x10(b *testing.B) {
	st := history(b, 1000, 10)
	for _, mv := range []bool{true, false} {
		b.Run(fmt.Sprintf("multivariate=%v", mv), func(b *testing.B) {
			s := NewTPE(Config{Seed: 1, Multivariate: &mv}, st.Space)
			runtime.LockOSThread() // so that threadCPU measures this goroutine
			defer runtime.UnlockOSThread()
			var wall, cpu []time.Duration
			n := 0
			for b.Loop() {
				t0, c0 := time.Now(), threadCPU()
				if _, err := s.Sample(context.Background(), st, 1000+n); err != nil {
					b.Fatal(err)
				}
				wall, cpu = append(wall, time.Since(t0)), append(cpu, threadCPU()-c0)
				n++
			}
			reportQuantiles(b, wall, "")
			reportQuantiles(b, cpu, "cpu-")
		})
	}
}

// BenchmarkBraninStudy100 is the sampler time of a whole 100-trial Branin study (the bound:
// < 0.1 s; Optuna's own figure is printed by compare.py in the same make bench run).
func BenchmarkBraninStudy100(b *testing.B) {
	f, _ := benchfn.Get("branin")
	for _, name := range []string{"random", "tpe", "cmaes"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				optimize(b, mustNew(b, Config{Name: name, Seed: 1}, f.Space), f, 100)
			}
		})
	}
}

// reportQuantiles reports the median and p99 of ds in milliseconds (prefix "cpu-" for CPU
// time, which on this shared machine is the steadier figure).
func reportQuantiles(b *testing.B, ds []time.Duration, prefix string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	q := func(p float64) float64 { return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / 1e6 }
	b.ReportMetric(q(0.5), prefix+"p50-ms")
	b.ReportMetric(q(0.99), prefix+"p99-ms")
}
