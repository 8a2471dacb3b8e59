package monitor

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

func compareOne(t *testing.T, ref, cur Column, opts DriftOptions) FeatureDrift {
	t.Helper()
	res, err := CompareColumns(context.Background(), []Column{ref}, []Column{cur}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res.Features[0]
}

// TestKnownShiftsAreDetected checks each kind of shift with the method Evidently's rules pick for it.
func TestKnownShiftsAreDetected(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name     string
		ref, cur Column
		method   Method
	}{
		{"mean shift, small reference (KS)",
			Column{Name: "f", Values: normalSample(rng, 500, 0, 1)}, Column{Name: "f", Values: normalSample(rng, 500, 0.5, 1)}, MethodKS},
		{"variance change, small reference (KS)",
			Column{Name: "f", Values: normalSample(rng, 800, 0, 1)}, Column{Name: "f", Values: normalSample(rng, 800, 0, 2)}, MethodKS},
		{"mean shift, large reference (Wasserstein)",
			Column{Name: "f", Values: normalSample(rng, 5000, 0, 1)}, Column{Name: "f", Values: normalSample(rng, 2000, 0.3, 1)}, MethodWasserstein},
		{"variance change, large reference (Wasserstein)",
			Column{Name: "f", Values: normalSample(rng, 5000, 0, 1)}, Column{Name: "f", Values: normalSample(rng, 2000, 0, 1.5)}, MethodWasserstein},
		{"category swap, small reference (chi-square)",
			Column{Name: "c", Values: categorySample(rng, 600, []float64{0.6, 0.3, 0.1})},
			Column{Name: "c", Values: categorySample(rng, 600, []float64{0.1, 0.3, 0.6})}, MethodChiSquare},
		{"category swap, large reference (Jensen–Shannon)",
			Column{Name: "c", Values: categorySample(rng, 3000, []float64{0.5, 0.3, 0.2})},
			Column{Name: "c", Values: categorySample(rng, 3000, []float64{0.2, 0.3, 0.5})}, MethodJensenShannon},
		{"binary proportion change (Z-test)",
			Column{Name: "b", Values: categorySample(rng, 500, []float64{0.7, 0.3})},
			Column{Name: "b", Values: categorySample(rng, 500, []float64{0.5, 0.5})}, MethodZ},
		{"label flip in the prediction column (Z-test)",
			Column{Name: "prediction", Values: categorySample(rng, 400, []float64{0.8, 0.2}), Categorical: true},
			Column{Name: "prediction", Values: categorySample(rng, 400, []float64{0.2, 0.8}), Categorical: true}, MethodZ},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fd := compareOne(t, c.ref, c.cur, DriftOptions{})
			if fd.Method != c.method {
				t.Errorf("auto picked %s, want %s", fd.Method, c.method)
			}
			if !fd.Drifted {
				t.Errorf("shift not detected: %s score %v (threshold %v)", fd.Method, fd.Score, fd.Threshold)
			}
			if fd.PSI <= 0.01 {
				t.Errorf("PSI %v does not reflect the shift", fd.PSI)
			}
		})
	}
}

// TestFalseAlarmRate draws reference and current from the same distribution over 200 seeds. A test at
// significance 0.05 must fire on about 5% of them: with 200 trials the count is Binomial(200, 0.05),
// mean 10, sd 3.1, so more than 22 alarms (p < 0.001) means the p-values are too small, and fewer than
// 2 (p ≈ 0.002) means the test is uselessly conservative. Distances at 0.1 must never fire at these
// sizes: their sampling noise is far below the threshold.
func TestFalseAlarmRate(t *testing.T) {
	const seeds = 200
	type gen func(rng *rand.Rand) (ref, cur []float64)
	cases := []struct {
		name   string
		method Method
		gen    gen
		lo, hi int
	}{
		{"KS", MethodKS, func(rng *rand.Rand) ([]float64, []float64) {
			return normalSample(rng, 300, 0, 1), normalSample(rng, 200, 0, 1)
		}, 2, 22},
		{"chi-square", MethodChiSquare, func(rng *rand.Rand) ([]float64, []float64) {
			p := []float64{0.5, 0.25, 0.15, 0.1}
			return categorySample(rng, 1000, p), categorySample(rng, 400, p)
		}, 2, 22},
		{"Z", MethodZ, func(rng *rand.Rand) ([]float64, []float64) {
			p := []float64{0.6, 0.4}
			return categorySample(rng, 800, p), categorySample(rng, 500, p)
		}, 2, 22},
		{"Wasserstein", MethodWasserstein, func(rng *rand.Rand) ([]float64, []float64) {
			return normalSample(rng, 5000, 3, 2), normalSample(rng, 2000, 3, 2)
		}, 0, 0},
		{"Jensen–Shannon", MethodJensenShannon, func(rng *rand.Rand) ([]float64, []float64) {
			p := []float64{0.4, 0.3, 0.2, 0.1}
			return categorySample(rng, 3000, p), categorySample(rng, 2000, p)
		}, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			alarms := 0
			for s := uint64(0); s < seeds; s++ {
				rng := rand.New(rand.NewPCG(s, 77))
				ref, cur := c.gen(rng)
				fd := compareOne(t, Column{Name: "f", Values: ref}, Column{Name: "f", Values: cur}, DriftOptions{})
				if fd.Method != c.method {
					t.Fatalf("auto picked %s, want %s", fd.Method, c.method)
				}
				if fd.Drifted {
					alarms++
				}
			}
			t.Logf("%s: %d false alarms in %d unshifted samples (%.1f%%)", c.name, alarms, seeds, 100*float64(alarms)/seeds)
			if alarms < c.lo || alarms > c.hi {
				t.Errorf("%d false alarms in %d unshifted samples, want %d..%d", alarms, seeds, c.lo, c.hi)
			}
		})
	}
}

func TestDatasetDriftShare(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var ref, cur []Column
	for i := 0; i < 4; i++ {
		shift := 0.0
		if i < 2 {
			shift = 1
		}
		ref = append(ref, Column{Name: "f", Values: normalSample(rng, 400, 0, 1)})
		cur = append(cur, Column{Name: "f", Values: normalSample(rng, 400, shift, 1)})
	}
	res, err := CompareColumns(context.Background(), ref, cur, DriftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.DriftedColumns != 2 || res.Share != 0.5 || !res.Drifted {
		t.Errorf("2 of 4 shifted: drifted=%d share=%v dataset=%v", res.DriftedColumns, res.Share, res.Drifted)
	}
	res, _ = CompareColumns(context.Background(), ref, cur, DriftOptions{DriftShare: 0.75})
	if res.Drifted {
		t.Error("share 0.5 must not trigger a 0.75 drift-share threshold")
	}
}

func TestForcedMethodAndThreshold(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ref := Column{Name: "f", Values: normalSample(rng, 2000, 0, 1)}
	cur := Column{Name: "f", Values: normalSample(rng, 2000, 0.4, 1)}
	fd := compareOne(t, ref, cur, DriftOptions{Method: MethodPSI})
	if fd.Method != MethodPSI || fd.Score != fd.PSI || !fd.Drifted {
		t.Errorf("PSI forced: %+v", fd)
	}
	fd = compareOne(t, ref, cur, DriftOptions{Method: MethodKS, Threshold: 1e-300})
	if fd.PValue == nil || fd.Drifted != (*fd.PValue < 1e-300) {
		t.Errorf("KS with a tiny threshold: %+v", fd)
	}
}

func TestDriftBadInput(t *testing.T) {
	ctx := context.Background()
	good := Column{Name: "f", Values: []float64{1, 2, 3}}
	for name, c := range map[string][2]Column{
		"empty reference": {{Name: "f"}, good},
		"empty current":   {good, {Name: "f"}},
		"NaN":             {good, {Name: "f", Values: []float64{1, math.NaN()}}},
		"Inf":             {{Name: "f", Values: []float64{math.Inf(-1), 1}}, good},
	} {
		if _, err := CompareColumns(ctx, []Column{c[0]}, []Column{c[1]}, DriftOptions{}); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := CompareColumns(ctx, []Column{good}, nil, DriftOptions{}); err == nil {
		t.Error("column count mismatch: no error")
	}
	strCol := Column{Name: "s", Values: []float64{0, 1, 2}, Categorical: true, Levels: []string{"a", "b", "c"}}
	if _, err := CompareColumns(ctx, []Column{strCol}, []Column{strCol}, DriftOptions{Method: MethodKS}); err == nil {
		t.Error("KS on strings: no error")
	}
	if _, err := ParseMethod("kolmogorov"); err == nil {
		t.Error("unknown method accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CompareColumns(cctx, []Column{good}, []Column{good}, DriftOptions{}); err == nil {
		t.Error("cancelled context: no error")
	}
}
