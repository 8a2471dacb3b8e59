package backend

import "github.com/gomlx/compute/gobackend/extension"

// dotGeneral is the float32 DotGeneral of the go backend, for both normalized layouts:
// output[b] = lhs[b]·rhs[b] with lhs[b] m×k and rhs[b] k×n (DotNonTransposed) or n×k
// (DotTransposed), all row-major.
func dotGeneral(be *extension.Backend, layout extension.DotLayout, lhs, rhs []float32, batch, m, n, k int, out []float32) {
	sc := scratch{be: be}
	for b := range batch {
		a := mat{data: lhs[b*m*k:], rs: k, cs: 1}
		bm := mat{data: rhs[b*k*n:], rs: n, cs: 1}
		if layout == extension.DotTransposed {
			bm = mat{data: rhs[b*k*n:], rs: 1, cs: k}
		}
		gemm(sc, m, n, k, a, bm, out[b*m*n:], n, false)
	}
}
