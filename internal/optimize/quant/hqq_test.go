package quant

import (
	"math/rand/v2"
	"testing"
)

// TestLsqExactBeatsGrid holds the exact scale search to a fine brute-force
// grid over the same range of scales for the same integer zero point, on
// Gaussian blocks and on blocks with one outlier (where clipping pays): its
// error is never above the grid's.
func TestLsqExactBeatsGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const qmax = 15
	var sc hqqScratch
	x := make([]float32, 32)
	for trial := 0; trial < 300; trial++ {
		for k := range x {
			x[k] = float32(r.NormFloat64())
		}
		if trial%2 == 1 {
			x[r.IntN(len(x))] *= 4
		}
		base, z0 := blockParams(x, 4, false)
		for z := max(z0-1, 0); z <= min(z0+1, qmax); z++ {
			s := lsqExact(x, z, qmax, base, &sc)
			if s <= 0 {
				t.Fatalf("trial %d z %g: no scale", trial, z)
			}
			got := blockSSE(x, s, z, qmax)
			grid := blockSSE(x, base, z, qmax)
			for ratio := hqqScaleLo; ratio <= hqqScaleHi; ratio += 0.0002 {
				g := base * float32(ratio)
				grid = min(grid, blockSSE(x, g, z, qmax))
			}
			if got > grid*(1+1e-5) {
				t.Errorf("trial %d z %g: exact search error %.6g above the grid's %.6g", trial, z, got, grid)
			}
		}
	}
	if s := lsqExact(make([]float32, 32), 0, qmax, 1, &sc); s != 0 {
		t.Errorf("block of zeros: scale %g, want 0", s)
	}
}

// BenchmarkQuantizeBlocks times each algorithm on a 768 x 768 Gaussian
// weight at block 32 (one GPT-2-small attention projection).
func BenchmarkQuantizeBlocks(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const K, N = 768, 768
	w := make([]float32, K*N)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	for _, alg := range []Algorithm{RTN, HQQ} {
		b.Run(string(alg), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := QuantizeBlocks(w, K, N, BlockOptions{BlockSize: 32, Bits: 4, Algorithm: alg}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
