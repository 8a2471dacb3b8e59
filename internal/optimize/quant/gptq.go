package quant

import (
	"errors"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// GPTQ (Frantar et al. 2022) for one layer. Rows of W are output columns n
// of the MatMul weight, columns are the K inputs. Input columns are
// quantized in order; the error of each is spread over the columns not yet
// quantized through the upper Cholesky factor U of H^-1 (H = X^T X of the
// layer input plus dampening), so that the layer's output on the
// calibration data, not its weights, stays close. Block parameters are
// chosen (min/max) from the updated weights when a block's first column is
// reached, which is where MatMulNBits puts them. Updates are applied
// lazily, lazyBlock columns at a time, as one matrix product.

const lazyBlock = 128

// errorRows bounds the output columns the output error is measured on.
const errorRows = 256

func (w *BlockWeight) gptq(wt []float32, hessian []float64, percdamp float64) error {
	K, N := w.K, w.N
	kb := w.KBlocks()
	row := kb * w.BlockSize
	W := make([]float64, N*K)
	for n := 0; n < N; n++ {
		for k := 0; k < K; k++ {
			W[n*K+k] = float64(wt[n*row+k])
		}
	}
	U, err := inverseHessianFactor(hessian, K, percdamp, W, N)
	if err != nil {
		return err
	}
	lb := max(lazyBlock, w.BlockSize)
	qmax := w.qmax()
	symmetric := w.ZeroPoints == nil
	err1 := make([]float64, N*lb)
	for i1 := 0; i1 < K; i1 += lb {
		i2 := min(i1+lb, K)
		width := i2 - i1
		// Rows are independent within a lazy block: each has its own block
		// parameters and only updates itself.
		parallelRows(N, N*width*width, func(lo, hi int) {
			x := make([]float32, w.BlockSize)
			var s, z float32
			for n := lo; n < hi; n++ {
				wr := W[n*K : (n+1)*K]
				er := err1[n*lb : n*lb+width]
				for i := i1; i < i2; i++ {
					if i%w.BlockSize == 0 {
						b := i / w.BlockSize
						xs := x[:min(i+w.BlockSize, K)-i]
						for j := range xs {
							xs[j] = float32(wr[i+j])
						}
						s, z = blockParams(xs, w.Bits, symmetric)
						w.Scales[n*kb+b] = s
						if !symmetric {
							w.ZeroPoints[n*kb+b] = uint8(z)
						}
					}
					v := wr[i]
					c := min(max(float32(math.RoundToEven(v/float64(s)+float64(z))), 0), qmax)
					w.Codes[n*row+i] = uint8(c)
					e := (v - float64((c-z)*s)) / U[i*K+i]
					urow := U[i*K : (i+1)*K]
					for j := i + 1; j < i2; j++ {
						wr[j] -= e * urow[j]
					}
					er[i-i1] = e
				}
			}
		})
		if i2 < K {
			// W[:, i2:] -= Err1 · U[i1:i2, i2:]
			blas64.Implementation().Dgemm(blas.NoTrans, blas.NoTrans, N, K-i2, width,
				-1, err1, lb, U[i1*K+i2:], K, 1, W[i2:], K)
		}
	}
	return nil
}

// parallelRows splits rows [0, n) across the cores when work (a rough
// operation count) is worth it.
func parallelRows(n, work int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if work < 1<<16 || workers == 1 || n < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	wg.Wait()
}

// inverseHessianFactor returns U, upper triangular with U^T U = (H + damp)^-1,
// [K, K] row-major. Inputs that never vary (zero diagonal) get a unit
// diagonal and their weights are zeroed, as they cannot affect the output.
func inverseHessianFactor(hessian []float64, K int, percdamp float64, W []float64, N int) ([]float64, error) {
	if percdamp <= 0 {
		percdamp = 0.01
	}
	H := make([]float64, K*K)
	copy(H, hessian)
	var mean float64
	for i := 0; i < K; i++ {
		if H[i*K+i] == 0 {
			H[i*K+i] = 1
			for n := 0; n < N; n++ {
				W[n*K+i] = 0
			}
		}
		mean += H[i*K+i]
	}
	mean /= float64(K)
	damp := percdamp * mean
	for try := 0; try < 6; try++ {
		Hd := make([]float64, K*K)
		copy(Hd, H)
		for i := 0; i < K; i++ {
			Hd[i*K+i] += damp
		}
		var c mat.Cholesky
		if c.Factorize(mat.NewSymDense(K, Hd)) {
			var inv mat.SymDense
			if err := c.InverseTo(&inv); err == nil {
				var c2 mat.Cholesky
				if c2.Factorize(&inv) {
					var u mat.TriDense
					c2.UTo(&u)
					out := make([]float64, K*K)
					for r := 0; r < K; r++ {
						for col := r; col < K; col++ {
							out[r*K+col] = u.At(r, col)
						}
					}
					return out, nil
				}
			}
		}
		damp *= 10 // ill-conditioned: dampen more, as GPTQ implementations do
	}
	return nil, errors.New("the layer's input Hessian is not positive definite even with dampening; use more calibration data or --algorithm rtn")
}

// reconstructionError compares the quantized weight with wt, its float
// rows ([N, k_blocks*BlockSize]): the relative Frobenius error of the
// weight and, when the input Hessian H = X^T X is known, the relative error
// of the layer output on that data, sqrt(tr(dW H dW^T) / tr(W H W^T));
// outputErr is -1 without H.
func (w *BlockWeight) reconstructionError(wt []float32, hessian []float64) (weightErr, outputErr float64) {
	K, N := w.K, w.N
	kb := w.KBlocks()
	row := kb * w.BlockSize
	withH := len(hessian) == K*K
	var D, F []float64
	if withH {
		D, F = make([]float64, N*K), make([]float64, N*K)
	}
	var num, den float64
	for n := 0; n < N; n++ {
		for k := 0; k < K; k++ {
			b := k / w.BlockSize
			deq := (float32(w.Codes[n*row+k]) - w.zero(n, b)) * w.Scales[n*kb+b]
			v := wt[n*row+k]
			d := float64(v - deq)
			num += d * d
			den += float64(v) * float64(v)
			if withH {
				D[n*K+k], F[n*K+k] = d, float64(v)
			}
		}
	}
	if den > 0 {
		weightErr = math.Sqrt(num / den)
	}
	if !withH {
		return weightErr, -1
	}
	// The output error is estimated on at most errorRows evenly spaced
	// output columns: exact enough to rank layers, and N*K*K flops become
	// errorRows*K*K.
	rows := min(N, errorRows)
	pick := func(a []float64) []float64 {
		if rows == N {
			return a
		}
		out := make([]float64, rows*K)
		for i := 0; i < rows; i++ {
			n := i * N / rows
			copy(out[i*K:(i+1)*K], a[n*K:(n+1)*K])
		}
		return out
	}
	D, F = pick(D), pick(F)
	quad := func(a []float64) float64 {
		t := make([]float64, rows*K)
		blas64.Implementation().Dgemm(blas.NoTrans, blas.NoTrans, rows, K, K, 1, a, K, hessian, K, 0, t, K)
		var s float64
		for i := range t {
			s += t[i] * a[i]
		}
		return s
	}
	if d := quad(F); d > 0 {
		outputErr = math.Sqrt(math.Max(quad(D), 0) / d)
	}
	return weightErr, outputErr
}
