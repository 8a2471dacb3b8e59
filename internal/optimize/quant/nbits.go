package quant

import (
	"fmt"
	"math"
)

// Block quantization for com.microsoft.MatMulNBits and GatherBlockQuantized,
// as ONNX Runtime's contrib operator schema defines it:
//
//   - the weight of MatMul(A[..., K], B[K, N]) is stored per output column n
//     as ceil(K / block_size) blocks along K; B has shape
//     [N, k_blocks, block_size*bits/8] with the codes of a block packed low
//     bits first (for 4 bits: element 2i in the low nibble of byte i);
//   - scales have shape [N, k_blocks] and the type of A;
//   - zero points are either packed like B, shape [N, ceil(k_blocks*bits/8)]
//     (uint8), or unpacked with the type of A, shape [N, k_blocks]; absent,
//     they are 2^(bits-1);
//   - dequantized = (code - zero_point) * scale.
//
// A last block that K does not fill is padded (code 0); the runtime never
// reads the padding, and the algorithms only see the real values.

// BlockWeight is one block-quantized [K, N] weight.
type BlockWeight struct {
	K, N, BlockSize, Bits int
	// Codes holds one code (0 .. 2^Bits-1) per element, [N, k_blocks *
	// BlockSize] row-major; Pack turns it into the operator's B.
	Codes []uint8
	// Scales are [N, k_blocks].
	Scales []float32
	// ZeroPoints are the integer zero points, [N, k_blocks]; nil means
	// symmetric (every zero point is 2^(Bits-1) and the input is omitted).
	ZeroPoints []uint8
	// FloatZeroPoints, when set, replace ZeroPoints: [N, k_blocks] stored
	// unpacked. The operator allows them, but ORT 1.30's CPU kernel then
	// dequantizes the whole weight per call (70-100x slower than packed
	// zero points), so this package reads them (Dequantize) and never
	// writes them.
	FloatZeroPoints []float32
}

// KBlocks is the number of blocks along K.
func (w *BlockWeight) KBlocks() int { return (w.K + w.BlockSize - 1) / w.BlockSize }

// zero returns the zero point of block b of column n as a float.
func (w *BlockWeight) zero(n, b int) float32 {
	i := n*w.KBlocks() + b
	switch {
	case w.FloatZeroPoints != nil:
		return w.FloatZeroPoints[i]
	case w.ZeroPoints != nil:
		return float32(w.ZeroPoints[i])
	}
	return float32(int(1) << (w.Bits - 1))
}

// Dequantize returns the [K, N] float weight the operator computes with; it
// is the reference the tests hold the runtime to.
func (w *BlockWeight) Dequantize() []float32 {
	out := make([]float32, w.K*w.N)
	kb := w.KBlocks()
	row := kb * w.BlockSize
	for n := 0; n < w.N; n++ {
		for k := 0; k < w.K; k++ {
			b := k / w.BlockSize
			s := w.Scales[n*kb+b]
			out[k*w.N+n] = (float32(w.Codes[n*row+k]) - w.zero(n, b)) * s
		}
	}
	return out
}

// Pack returns B in the operator's layout: [N, k_blocks, BlockSize*Bits/8].
func (w *BlockWeight) Pack() []byte {
	return packBits(w.Codes, w.Bits)
}

// PackedZeroPoints returns the integer zero points packed like B:
// [N, ceil(k_blocks*Bits/8)], each row starting on a byte.
func (w *BlockWeight) PackedZeroPoints() []byte {
	if w.ZeroPoints == nil {
		return nil
	}
	kb := w.KBlocks()
	rowBytes := (kb*w.Bits + 7) / 8
	out := make([]byte, w.N*rowBytes)
	for n := 0; n < w.N; n++ {
		copy(out[n*rowBytes:(n+1)*rowBytes], packBits(w.ZeroPoints[n*kb:(n+1)*kb], w.Bits))
	}
	return out
}

// packBits packs codes of bits width low bits first into bytes; bits divides 8.
func packBits(codes []uint8, bits int) []byte {
	per := 8 / bits
	out := make([]byte, (len(codes)+per-1)/per)
	mask := uint8(1)<<bits - 1
	for i, c := range codes {
		out[i/per] |= (c & mask) << (uint(i%per) * uint(bits))
	}
	return out
}

// unpackBits is the inverse of packBits for n codes.
func unpackBits(packed []byte, bits, n int) []uint8 {
	per := 8 / bits
	mask := uint8(1)<<bits - 1
	out := make([]uint8, n)
	for i := range out {
		out[i] = packed[i/per] >> (uint(i%per) * uint(bits)) & mask
	}
	return out
}

// BlockOptions choose how a weight is block-quantized.
type BlockOptions struct {
	BlockSize, Bits int
	Symmetric       bool
	Algorithm       Algorithm
	// Hessian, for gptq, is X^T X of the layer's input over the
	// calibration data, [K, K] row-major.
	Hessian []float64
	// Percdamp is gptq's dampening, a share of the mean Hessian diagonal
	// (0 means 0.01).
	Percdamp float64
}

// Algorithm is how block parameters and codes are chosen.
type Algorithm string

// Algorithms.
const (
	// RTN rounds to nearest with each block's min/max range.
	RTN Algorithm = "rtn"
	// HQQ refines each block's zero point and scale by half-quadratic
	// optimization of an l_p (p < 1) reconstruction error; no data.
	HQQ Algorithm = "hqq"
	// GPTQ quantizes column by column and spreads each column's error over
	// the columns not yet quantized, weighted by the inverse Hessian of the
	// layer's inputs; needs calibration data.
	GPTQ Algorithm = "gptq"
)

// ParseAlgorithm reads a flag value.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(s); a {
	case "":
		return DefaultAlgorithm, nil
	case RTN, HQQ, GPTQ:
		return a, nil
	}
	return "", fmt.Errorf("unknown algorithm %q: use rtn, hqq or gptq", s)
}

// ValidBlockSize reports whether ORT's kernels accept b: a power of two of
// at least 16.
func ValidBlockSize(b int) bool { return b >= 16 && b&(b-1) == 0 }

// QuantizeBlocks block-quantizes the [K, N] row-major weight w.
func QuantizeBlocks(w []float32, K, N int, o BlockOptions) (*BlockWeight, error) {
	if K <= 0 || N <= 0 || len(w) != K*N {
		return nil, fmt.Errorf("weight has %d values, want %d x %d", len(w), K, N)
	}
	if !ValidBlockSize(o.BlockSize) {
		return nil, fmt.Errorf("block size %d: use a power of two of at least 16 (32, 64, 128 or 256)", o.BlockSize)
	}
	if o.Bits != 2 && o.Bits != 4 && o.Bits != 8 {
		return nil, fmt.Errorf("bits %d: MatMulNBits takes 2, 4 or 8", o.Bits)
	}
	for _, v := range w {
		if isBad(v) {
			return nil, fmt.Errorf("weight has a non-finite value (%g); fix the model before quantizing", v)
		}
	}
	bw := &BlockWeight{K: K, N: N, BlockSize: o.BlockSize, Bits: o.Bits}
	row := bw.KBlocks() * o.BlockSize
	// Columns of w become rows of wt, padded to whole blocks.
	wt := make([]float32, N*row)
	parallelFor(N, func(a, b int) {
		for n := a; n < b; n++ {
			r := wt[n*row : (n+1)*row]
			for k := 0; k < K; k++ {
				r[k] = w[k*N+n]
			}
		}
	})
	if err := bw.quantizeRows(wt, o); err != nil {
		return nil, err
	}
	return bw, nil
}

// rowsInto copies a [N, K] row-major weight into padded rows in dst
// (reused when large enough).
func rowsInto(dst, w []float32, K, N, row int) []float32 {
	if cap(dst) < N*row {
		dst = make([]float32, N*row)
	}
	wt := dst[:N*row]
	for n := 0; n < N; n++ {
		copy(wt[n*row:n*row+K], w[n*K:(n+1)*K])
		clear(wt[n*row+K : (n+1)*row])
	}
	return wt
}

// quantizeRows fills codes and parameters from wt, the weight's columns as
// rows padded to whole blocks ([N, k_blocks*BlockSize]).
func (w *BlockWeight) quantizeRows(wt []float32, o BlockOptions) error {
	K, N := w.K, w.N
	kb := w.KBlocks()
	if cap(w.Codes) < len(wt) {
		w.Codes = make([]uint8, len(wt))
	}
	w.Codes = w.Codes[:len(wt)]
	clear(w.Codes)
	w.Scales = make([]float32, N*kb)
	if !o.Symmetric {
		w.ZeroPoints = make([]uint8, N*kb)
	}
	switch o.Algorithm {
	case "", RTN:
		parallelFor(N*kb, func(a, b int) {
			for i := a; i < b; i++ {
				w.rtnBlock(wt, i)
			}
		})
	case HQQ:
		parallelFor(N*kb, func(a, b int) {
			var sc hqqScratch
			for i := a; i < b; i++ {
				w.hqqBlock(wt, i, &sc)
			}
		})
	case GPTQ:
		if len(o.Hessian) != K*K {
			return fmt.Errorf("gptq needs the %d x %d Hessian of the layer input (calibration data)", K, K)
		}
		if err := w.gptq(wt, o.Hessian, o.Percdamp); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown algorithm %q", o.Algorithm)
	}
	return nil
}

// qmax is the largest code.
func (w *BlockWeight) qmax() float32 { return float32(int(1)<<w.Bits - 1) }

// blockParams chooses RTN parameters for the values x of one block:
// asymmetric maps [min(x, 0), max(x, 0)] onto the codes; symmetric maps the
// value of largest magnitude to code 0, so that all 2^bits codes are used
// (the scale is then negative when that value is positive, as in ORT's own
// quantizer).
func blockParams(x []float32, bits int, symmetric bool) (scale, zero float32) {
	qmax := float32(int(1)<<bits - 1)
	mid := float32(int(1) << (bits - 1))
	if symmetric {
		var m float32
		for _, v := range x {
			if abs32(v) > abs32(m) {
				m = v
			}
		}
		if m == 0 {
			return 1, mid
		}
		return m / -mid, mid
	}
	lo, hi := float32(0), float32(0)
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi == lo {
		return 1, 0
	}
	scale = (hi - lo) / qmax
	zero = float32(math.RoundToEven(float64(-lo / scale)))
	return scale, min(max(zero, 0), qmax)
}

// encode writes the codes of x for (scale, zero) into q.
func encodeBlock(q []uint8, x []float32, scale, zero, qmax float32) {
	inv := 1 / scale
	for i, v := range x {
		c := float32(math.RoundToEven(float64(v*inv + zero)))
		q[i] = uint8(min(max(c, 0), qmax))
	}
}

// block returns the real (unpadded) values and the codes of block i
// (column n = i / k_blocks).
func (w *BlockWeight) block(wt []float32, i int) (x []float32, q []uint8) {
	kb := w.KBlocks()
	n, b := i/kb, i%kb
	lo := n*kb*w.BlockSize + b*w.BlockSize
	size := min(w.BlockSize, w.K-b*w.BlockSize)
	return wt[lo : lo+size], w.Codes[lo : lo+size]
}

func (w *BlockWeight) rtnBlock(wt []float32, i int) {
	x, q := w.block(wt, i)
	s, z := blockParams(x, w.Bits, w.ZeroPoints == nil)
	encodeBlock(q, x, s, z, w.qmax())
	w.Scales[i] = s
	if w.ZeroPoints != nil {
		w.ZeroPoints[i] = uint8(z)
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// blockSSE is the squared reconstruction error of x for (scale, zero).
func blockSSE(x []float32, scale, zero, qmax float32) float64 {
	inv := 1 / scale
	var e float64
	for _, v := range x {
		c := min(max(float32(math.RoundToEven(float64(v*inv+zero))), 0), qmax)
		d := float64(v - (c-zero)*scale)
		e += d * d
	}
	return e
}
