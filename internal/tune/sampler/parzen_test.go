package sampler

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/mlops-dev/mlops/internal/tune/space"
)

// TestParzenMatchesOptuna compares the estimator's log densities with Debian's Optuna 3.1 on
// the same observations (testdata/gen_parzen_reference.py): per parameter for the independent
// model, and the joint product-kernel density the multivariate model is defined to compute.
func TestParzenMatchesOptuna(t *testing.T) {
	var ref struct {
		Observations map[string][]float64
		Points       map[string][]float64
		Univariate   map[string][]float64
		Joint        []float64
	}
	b, err := os.ReadFile("testdata/parzen_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	sp, err := space.New([]space.Param{
		{Name: "x", Type: space.Float, Low: -5, High: 10},
		{Name: "lr", Type: space.Float, Low: 1e-5, High: 0.1, Log: true},
		{Name: "n", Type: space.Int, Low: 1, High: 1000},
		{Name: "drop", Type: space.Float, Low: 0, High: 0.5, Step: 0.01},
		{Name: "c", Type: space.Categorical, Choices: []any{"a", "b", "c"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rows := func(m map[string][]float64, ps []*space.Param) [][]float64 {
		var out [][]float64
		for i := range m[ps[0].Name] {
			row := make([]float64, len(ps))
			for d, p := range ps {
				v := m[p.Name][i]
				if p.Type == space.Categorical {
					row[d] = v
				} else {
					row[d] = p.Internal(v)
				}
			}
			out = append(out, row)
		}
		return out
	}
	opts := parzenOpts{priorWeight: 1, magicClip: true}
	var all []*space.Param
	for i := range sp.Params {
		p := &sp.Params[i]
		all = append(all, p)
		pe := newParzen(rows(ref.Observations, []*space.Param{p}), []*space.Param{p}, opts, nil)
		got := pe.logPDF(rows(ref.Points, []*space.Param{p}))
		for k, want := range ref.Univariate[p.Name] {
			if math.Abs(got[k]-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%s point %d: log density %v, Optuna %v", p.Name, k, got[k], want)
			}
		}
	}
	pe := newParzen(rows(ref.Observations, all), all, opts, nil)
	got := pe.logPDF(rows(ref.Points, all))
	for k, want := range ref.Joint {
		if math.Abs(got[k]-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("joint point %d: log density %v, reference %v", k, got[k], want)
		}
	}
}

func TestLogGaussMassTails(t *testing.T) {
	for _, c := range []struct{ a, b, want float64 }{
		{-1, 1, math.Log(0.6826894921370859)},
		{0, math.Inf(1), math.Log(0.5)},
		{-40, -39, -765.0831565643971}, // far lower tail (Optuna 3.1 gives the same): Φ underflows, the log does not
		{39, 40, -765.0831565643971},
	} {
		got := logGaussMass(c.a, c.b)
		if math.Abs(got-c.want) > 1e-6*math.Max(1, math.Abs(c.want)) {
			t.Errorf("logGaussMass(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
