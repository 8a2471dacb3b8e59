// Package benchfn holds the standard test functions the samplers are measured on (Branin,
// Hartmann-6 and noisy variants), with their search spaces, so the Go benchmarks and the
// sampler-quality comparison against Optuna use the same definitions.
package benchfn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mlops-dev/mlops/internal/tune/space"
)

// Func is a minimization problem.
type Func struct {
	Name  string
	Space *space.Space
	// Eval returns the (possibly noisy) value a sampler sees and the true value used to judge it.
	Eval func(p space.Params, rng *rand.Rand) (observed, truth float64)
	Min  float64 // global minimum
}

func floats(names []string, low, high float64) *space.Space {
	ps := make([]space.Param, len(names))
	for i, n := range names {
		ps[i] = space.Param{Name: n, Type: space.Float, Low: low, High: high}
	}
	sp, err := space.New(ps)
	if err != nil {
		panic(err) // static definitions
	}
	return sp
}

// Branin on x ∈ [−5, 10], y ∈ [0, 15]; minimum 0.397887 at three points.
func Branin(x, y float64) float64 {
	const b, c, r, s, t = 5.1 / (4 * math.Pi * math.Pi), 5 / math.Pi, 6, 10, 1 / (8 * math.Pi)
	return math.Pow(y-b*x*x+c*x-r, 2) + s*(1-t)*math.Cos(x) + s
}

var (
	hA = [4][6]float64{{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14}, {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}}
	hP = [4][6]float64{{1312, 1696, 5569, 124, 8283, 5886}, {2329, 4135, 8307, 3736, 1004, 9991},
		{2348, 1451, 3522, 2883, 3047, 6650}, {4047, 8828, 8732, 5743, 1091, 381}}
	hAlpha = [4]float64{1, 1.2, 3, 3.2}
)

// Hartmann6 on [0, 1]⁶; minimum −3.32237.
func Hartmann6(x [6]float64) float64 {
	var out float64
	for i := 0; i < 4; i++ {
		var s float64
		for j := 0; j < 6; j++ {
			d := x[j] - hP[i][j]*1e-4
			s += hA[i][j] * d * d
		}
		out -= hAlpha[i] * math.Exp(-s)
	}
	return out
}

func num(p space.Params, k string) float64 { return p[k].(float64) }

// Get returns a test function by name: branin, hartmann6, noisy-branin (Gaussian noise σ=1
// on each observation), noisy-hartmann6 (σ=0.1).
func Get(name string) (Func, error) {
	switch name {
	case "branin", "noisy-branin":
		sigma := 0.0
		if name == "noisy-branin" {
			sigma = 1
		}
		sp, _ := space.New([]space.Param{{Name: "x", Type: space.Float, Low: -5, High: 10}, {Name: "y", Type: space.Float, Low: 0, High: 15}})
		return Func{Name: name, Space: sp, Min: 0.397887, Eval: func(p space.Params, rng *rand.Rand) (float64, float64) {
			v := Branin(num(p, "x"), num(p, "y"))
			return noisy(v, sigma, rng), v
		}}, nil
	case "hartmann6", "noisy-hartmann6":
		sigma := 0.0
		if name == "noisy-hartmann6" {
			sigma = 0.1
		}
		return Func{Name: name, Space: floats([]string{"x0", "x1", "x2", "x3", "x4", "x5"}, 0, 1), Min: -3.32237,
			Eval: func(p space.Params, rng *rand.Rand) (float64, float64) {
				var x [6]float64
				for i := range x {
					x[i] = num(p, fmt.Sprintf("x%d", i))
				}
				v := Hartmann6(x)
				return noisy(v, sigma, rng), v
			}}, nil
	}
	return Func{}, fmt.Errorf("unknown test function %q: use branin, hartmann6, noisy-branin or noisy-hartmann6", name)
}

func noisy(v, sigma float64, rng *rand.Rand) float64 {
	if sigma == 0 {
		return v
	}
	return v + sigma*rng.NormFloat64()
}
