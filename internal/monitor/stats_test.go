package monitor

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"sort"
	"testing"
)

type goldenStats struct {
	Samples []struct {
		A, B          []float64
		KSD           float64   `json:"ks_d"`
		KSP           float64   `json:"ks_p"`
		Wasserstein   float64   `json:"wasserstein"`
		StdA          float64   `json:"std_a"`
		Edges         []float64 `json:"edges"`
		SharesA       []float64 `json:"shares_a"`
		SharesB       []float64 `json:"shares_b"`
		JensenShannon float64   `json:"jensenshannon"`
		PSI           float64   `json:"psi"`
	}
	ChiSquare []struct {
		Obs, Exp []float64
		Stat, P  float64
	} `json:"chisquare"`
	Homogeneity []struct {
		Ref, Cur []float64
		Stat, P  float64
	} `json:"homogeneity"`
	ZTest []struct {
		N1, H1, N2, H2 int
		Z, P           float64
	} `json:"ztest"`
}

func loadGolden(t *testing.T) goldenStats {
	t.Helper()
	b, err := os.ReadFile("testdata/golden_stats.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenStats
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Samples) == 0 || len(g.ChiSquare) == 0 || len(g.ZTest) == 0 || len(g.Homogeneity) == 0 {
		t.Fatal("golden file has no cases")
	}
	return g
}

func near(got, want, abs, rel float64) bool {
	return math.Abs(got-want) <= abs+rel*math.Abs(want)
}

// TestStatsMatchScipy pins every statistic to scipy 1.10 / numpy values (testdata/gen_golden_stats.py).
func TestStatsMatchScipy(t *testing.T) {
	g := loadGolden(t)
	for i, c := range g.Samples {
		a, b := slices.Clone(c.A), slices.Clone(c.B)
		sort.Float64s(a)
		sort.Float64s(b)
		d, p := KSTest(a, b)
		if !near(d, c.KSD, 1e-12, 0) {
			t.Errorf("case %d (n=%d,%d): KS D = %v, scipy %v", i, len(a), len(b), d, c.KSD)
		}
		exact := float64(len(a))*float64(len(b)) <= ksExactMaxCells
		// Exact p-values agree to rounding; the asymptotic formula is an approximation of scipy's exact one.
		abs, rel := 1e-9, 1e-6
		if !exact {
			abs, rel = 2e-3, 0.05
		}
		if !near(p, c.KSP, abs, rel) {
			t.Errorf("case %d (n=%d,%d exact=%v): KS p = %v, scipy %v", i, len(a), len(b), exact, p, c.KSP)
		}
		if w := WassersteinDistance(a, b); !near(w, c.Wasserstein, 1e-10, 1e-9) {
			t.Errorf("case %d: Wasserstein = %v, scipy %v", i, w, c.Wasserstein)
		}
		if _, s := meanStd(a); !near(s, c.StdA, 1e-12, 1e-10) {
			t.Errorf("case %d: std = %v, numpy %v", i, s, c.StdA)
		}
		edges := sturgesEdges(math.Min(a[0], b[0]), math.Max(a[len(a)-1], b[len(b)-1]), len(a)+len(b))
		if len(edges) != len(c.Edges) {
			t.Fatalf("case %d: %d Sturges edges, numpy %d", i, len(edges), len(c.Edges))
		}
		for k := range edges {
			if !near(edges[k], c.Edges[k], 1e-12, 1e-12) {
				t.Errorf("case %d: edge %d = %v, numpy %v", i, k, edges[k], c.Edges[k])
			}
		}
		sa, sb := histogramShares(a, edges), histogramShares(b, edges)
		fillZeros(sa)
		fillZeros(sb)
		for k := range sa {
			if !near(sa[k], c.SharesA[k], 1e-12, 0) || !near(sb[k], c.SharesB[k], 1e-12, 0) {
				t.Errorf("case %d: bin %d shares %v/%v, numpy %v/%v", i, k, sa[k], sb[k], c.SharesA[k], c.SharesB[k])
			}
		}
		if js := JensenShannonDistance(sa, sb); !near(js, c.JensenShannon, 1e-12, 1e-9) {
			t.Errorf("case %d: JS = %v, scipy %v", i, js, c.JensenShannon)
		}
		if psi := PSI(sa, sb); !near(psi, c.PSI, 1e-12, 1e-9) {
			t.Errorf("case %d: PSI = %v, numpy %v", i, psi, c.PSI)
		}
	}
	for i, c := range g.ChiSquare {
		stat, p := ChiSquareTest(c.Obs, c.Exp)
		if !near(stat, c.Stat, 1e-10, 1e-10) || !near(p, c.P, 1e-12, 1e-8) {
			t.Errorf("chisquare %d: %v, %v; scipy %v, %v", i, stat, p, c.Stat, c.P)
		}
	}
	for i, c := range g.Homogeneity {
		stat, p := ChiSquareHomogeneity(c.Ref, c.Cur)
		if !near(stat, c.Stat, 1e-10, 1e-10) || !near(p, c.P, 1e-12, 1e-8) {
			t.Errorf("chi2_contingency %d: %v, %v; scipy %v, %v", i, stat, p, c.Stat, c.P)
		}
	}
	for i, c := range g.ZTest {
		z, p := ProportionsZTest(c.H1, c.N1, c.H2, c.N2)
		if !near(z, c.Z, 1e-12, 1e-10) || !near(p, c.P, 1e-12, 1e-8) {
			t.Errorf("z-test %d: %v, %v; reference %v, %v", i, z, p, c.Z, c.P)
		}
	}
}

func TestKSPValueEdgeCases(t *testing.T) {
	same := []float64{1, 2, 3, 4, 5}
	if d, p := KSTest(same, same); d != 0 || p != 1 {
		t.Errorf("identical samples: D=%v p=%v, want 0, 1", d, p)
	}
	// Disjoint samples of 5 and 5: scipy's exact p-value is 2/C(10,5) = 2/252.
	if d, p := KSTest([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}); d != 1 || !near(p, 2.0/252, 1e-15, 1e-12) {
		t.Errorf("disjoint: D=%v p=%v, want 1, %v", d, p, 2.0/252)
	}
	// The asymptotic and exact p-values agree where both apply.
	for _, d := range []float64{0.02, 0.05, 0.08} {
		ex, as := ksExactPValue(d, 1000, 1500), ksAsymptoticPValue(d, 1000, 1500)
		if !near(as, ex, 5e-3, 0.05) {
			t.Errorf("d=%v: asymptotic %v vs exact %v", d, as, ex)
		}
	}
}

func TestChiSquareNewCategory(t *testing.T) {
	stat, p := ChiSquareTest([]float64{5, 5, 1}, []float64{5.5, 5.5, 0})
	if !math.IsInf(stat, 1) || p != 0 {
		t.Errorf("a category never seen in the reference must be drift: stat=%v p=%v", stat, p)
	}
}
