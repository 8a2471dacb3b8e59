package backend

import (
	"math"
	"math/rand/v2"
	"testing"
)

// refGemm is the plain triple loop, summed in float64.
func refGemm(m, n, k int, a, b mat, c []float32, ldc int, accumulate bool) {
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += float64(a.at(i, p)) * float64(b.at(p, j))
			}
			if accumulate {
				s += float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(s)
		}
	}
}

func randFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// randMat returns an m×n matrix, row-major or column-major.
func randMat(r *rand.Rand, m, n int, colMajor bool) mat {
	if colMajor {
		return mat{data: randFloats(r, m*n), rs: 1, cs: m}
	}
	return mat{data: randFloats(r, m*n), rs: n, cs: 1}
}

// closeEnough compares against the float64 reference with a tolerance scaled by the dot length.
func closeEnough(t *testing.T, name string, got, want []float32, k int) {
	t.Helper()
	tol := 1e-5 * math.Sqrt(float64(k+1)) * 4
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > tol*math.Max(1, math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %g, want %g", name, i, got[i], want[i])
		}
	}
}

func TestGemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{
		{1, 1, 1}, {6, 16, 1}, {7, 17, 3}, {5, 15, 300}, {13, 33, 257}, {72, 16, 256},
		{73, 49, 513}, {128, 256, 784}, {150, 10, 128}, {9, 16, 3000}, {1, 300, 64}, {300, 1, 64},
	}
	for _, sz := range sizes {
		m, n, k := sz[0], sz[1], sz[2]
		for _, layout := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, accumulate := range []bool{false, true} {
				a := randMat(r, m, k, layout[0])
				b := randMat(r, k, n, layout[1])
				ldc := n + 3
				c := randFloats(r, m*ldc)
				want := append([]float32(nil), c...)
				refGemm(m, n, k, a, b, want, ldc, accumulate)
				gemm(scratch{}, m, n, k, a, b, c, ldc, accumulate)
				closeEnough(t, "gemm", c, want, k)
			}
		}
	}
}

func TestGemmZeroDepth(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	gemm(scratch{}, 2, 2, 0, mat{}, mat{}, c, 2, true)
	if c[3] != 4 {
		t.Fatalf("accumulate with k=0 changed C: %v", c)
	}
	gemm(scratch{}, 2, 2, 0, mat{}, mat{}, c, 2, false)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k=0 must give zeros, got %v", c)
		}
	}
}

func TestMicroKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, kc := range []int{1, 2, 7, 256} {
		a, b := randFloats(r, kc*mr), randFloats(r, kc*nr)
		ldc := nr + 5
		c0 := randFloats(r, mr*ldc)
		for _, accumulate := range []bool{false, true} {
			got := append([]float32(nil), c0...)
			want := append([]float32(nil), c0...)
			microKernel(kc, a, b, got, ldc, accumulate)
			microKernelGo(kc, a, b, want, ldc, accumulate)
			closeEnough(t, "micro-kernel", got, want, kc)
			// Padding between rows must be untouched.
			for rr := range mr {
				for q := nr; q < ldc && rr*ldc+q < len(got); q++ {
					if got[rr*ldc+q] != c0[rr*ldc+q] {
						t.Fatalf("micro-kernel wrote outside its tile at row %d col %d", rr, q)
					}
				}
			}
		}
	}
}

func TestMicroKernelIndirectMatchesPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, kc := range []int{1, 5, 256} {
		a := randFloats(r, kc*mr)
		src := randFloats(r, 5000)
		offs := make([]int, kc)
		packed := make([]float32, kc*nr)
		for p := range offs {
			offs[p] = r.IntN(len(src) - nr)
			copy(packed[p*nr:], src[offs[p]:offs[p]+nr])
		}
		for _, accumulate := range []bool{false, true} {
			c0 := randFloats(r, mr*nr)
			got, want, portable := append([]float32(nil), c0...), append([]float32(nil), c0...), append([]float32(nil), c0...)
			microKernelIndirect(kc, a, src, offs, got, nr, accumulate)
			microKernel(kc, a, packed, want, nr, accumulate)
			microKernelIndirectGo(kc, a, src, offs, portable, nr, accumulate)
			closeEnough(t, "indirect", got, want, kc)
			closeEnough(t, "indirect portable", portable, want, kc)
		}
	}
}

func TestGemmDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	m, n, k := 200, 130, 1000
	a, b := randMat(r, m, k, false), randMat(r, k, n, true)
	first := make([]float32, m*n)
	gemm(scratch{}, m, n, k, a, b, first, n, false)
	for range 5 {
		again := make([]float32, m*n)
		gemm(scratch{}, m, n, k, a, b, again, n, false)
		for i := range first {
			if math.Float32bits(first[i]) != math.Float32bits(again[i]) {
				t.Fatalf("element %d differs between runs: %g vs %g", i, first[i], again[i])
			}
		}
	}
}

func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][3]int{{128, 256, 784}, {256, 256, 256}, {25088, 16, 144}} {
		m, n, k := sz[0], sz[1], sz[2]
		a, bb := randMat(r, m, k, false), randMat(r, k, n, false)
		c := make([]float32, m*n)
		b.Run("", func(b *testing.B) {
			for b.Loop() {
				gemm(scratch{}, m, n, k, a, bb, c, n, false)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
