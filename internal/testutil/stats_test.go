package testutil

import "testing"

func TestQuantile(t *testing.T) {
	v := []float64{4, 1, 3, 2, 5}
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.25, 2}, {0.5, 3}, {0.75, 4}, {1, 5}, {0.125, 1.5}} {
		if got := Quantile(v, c.q); got != c.want {
			t.Errorf("Quantile(%v, %g) = %g, want %g", v, c.q, got, c.want)
		}
	}
	if v[0] != 4 {
		t.Errorf("Quantile sorted its input: %v", v)
	}
	if got := Ratios([]float64{2, 9}, []float64{1, 3}); got[0] != 2 || got[1] != 3 {
		t.Errorf("Ratios = %v", got)
	}
}
