package quant

import (
	"fmt"
	"math"
)

// QType is a quantized element type.
type QType int

const (
	// Int8 is a signed 8-bit integer (ONNX INT8).
	Int8 QType = iota
	// Uint8 is an unsigned 8-bit integer (ONNX UINT8).
	Uint8
)

// String returns the flag spelling of the type.
func (t QType) String() string {
	switch t {
	case Int8:
		return "int8"
	case Uint8:
		return "uint8"
	}
	return fmt.Sprintf("QType(%d)", int(t))
}

// ParseQType reads a flag value ("int8" or "uint8").
func ParseQType(s string) (QType, error) {
	switch s {
	case "int8", "qint8", "INT8":
		return Int8, nil
	case "uint8", "quint8", "UINT8":
		return Uint8, nil
	}
	return 0, fmt.Errorf("unknown quantized type %q: use int8 or uint8", s)
}

// ONNXType returns the ONNX TensorProto.DataType code of t.
func (t QType) ONNXType() int32 {
	if t == Uint8 {
		return 2 // UINT8
	}
	return 3 // INT8
}

// Limits returns the integer range [qmin, qmax] used for t.
//
// reduceRange uses 7 bits (for CPUs whose int8 dot products can overflow
// with full-range operands, as ORT's quantizer does); symmetric int8 drops -128
// so that the range is symmetric around zero.
func (t QType) Limits(symmetric, reduceRange bool) (qmin, qmax int32) {
	switch {
	case t == Uint8 && reduceRange:
		return 0, 127
	case t == Uint8:
		return 0, 255
	case reduceRange:
		return -64, 64 - 1
	case symmetric:
		return -127, 127
	default:
		return -128, 127
	}
}

// saturation bounds: what QuantizeLinear clamps to, regardless of the range
// the parameters were chosen for.
func (t QType) bounds() (lo, hi float64) {
	if t == Uint8 {
		return 0, 255
	}
	return -128, 127
}

// Params are the scale and zero point of one quantized tensor or channel:
// real = (q - ZeroPoint) * Scale.
type Params struct {
	Scale     float32
	ZeroPoint int32
}

// ComputeParams picks scale and zero point so that [rmin, rmax] (extended to
// contain 0, which must be exactly representable) maps onto the range of t.
// symmetric forces the zero point to the middle of the range.
func ComputeParams(rmin, rmax float32, t QType, symmetric, reduceRange bool) (Params, error) {
	if isBad(rmin) || isBad(rmax) {
		return Params{}, fmt.Errorf("range [%g, %g] is not finite", rmin, rmax)
	}
	if rmin > rmax {
		return Params{}, fmt.Errorf("range [%g, %g] has min > max", rmin, rmax)
	}
	lo := math.Min(float64(rmin), 0)
	hi := math.Max(float64(rmax), 0)
	qmin, qmax := t.Limits(symmetric, reduceRange)
	if symmetric {
		m := math.Max(math.Abs(lo), math.Abs(hi))
		lo, hi = -m, m
	}
	scale := float32((hi - lo) / float64(qmax-qmin))
	if scale == 0 || isBad(scale) {
		// All-zero tensor: any scale represents it; 1 keeps dequantize exact.
		zp := int32(0)
		if t == Uint8 && symmetric {
			zp = int32(math.RoundToEven(float64(qmin+qmax) / 2))
		}
		return Params{Scale: 1, ZeroPoint: zp}, nil
	}
	var zp int32
	if symmetric {
		zp = int32(math.RoundToEven(float64(qmin+qmax) / 2))
	} else {
		z := math.RoundToEven(float64(qmin) - lo/float64(scale))
		zp = int32(math.Max(float64(qmin), math.Min(float64(qmax), z)))
	}
	return Params{Scale: scale, ZeroPoint: zp}, nil
}

func isBad(f float32) bool {
	return math.IsNaN(float64(f)) || math.IsInf(float64(f), 0)
}

// QuantizeValue applies ONNX QuantizeLinear to one value:
// saturate(round_half_to_even(x / scale) + zero_point).
func QuantizeValue(x float32, p Params, t QType) int32 {
	var b [1]byte
	QuantizeInto(b[:], []float32{x}, p, t)
	return ByteValue(b[0], t)
}

// DequantizeValue applies ONNX DequantizeLinear to one value.
func DequantizeValue(q int32, p Params) float32 {
	return float32(q-p.ZeroPoint) * p.Scale
}

// QuantizeInto quantizes src into dst (one byte per element, the two's
// complement byte for Int8) with one set of parameters.
func QuantizeInto(dst []byte, src []float32, p Params, t QType) {
	// x / scale is computed in float32 like ORT's kernels, so ties land
	// where the runtime puts them. The quotient is clamped to the range
	// that saturation allows around the zero point (integer bounds, so
	// clamping before rounding gives the same result as after), NaN goes
	// to the zero point, and the rest is rounded half to even by adding
	// and subtracting 1.5*2^23: exact for |v| < 2^22 under IEEE
	// round-to-nearest-even. The int32 conversion is exact, and its low
	// byte is the two's complement encoding for Int8.
	lo, hi := t.bounds()
	const magic = 12582912 // 1.5 * 2^23
	scale := p.Scale
	zp := float32(p.ZeroPoint)
	a, b := float32(lo)-zp, float32(hi)-zp
	dst = dst[:len(src)]
	for i, x := range src {
		v := x / scale
		if v < a {
			v = a
		}
		if v > b {
			v = b
		}
		if v != v { // NaN
			v = 0
		}
		dst[i] = byte(int32((v + magic) - magic + zp))
	}
}

func int8OrUint8(v int32, t QType) uint8 {
	if t == Int8 {
		return uint8(int8(v))
	}
	return uint8(v)
}

// ByteValue reads back one quantized byte as its integer value.
func ByteValue(b byte, t QType) int32 {
	if t == Int8 {
		return int32(int8(b))
	}
	return int32(b)
}

// ZeroPointByte encodes a zero point as the byte stored in an ONNX tensor.
func ZeroPointByte(zp int32, t QType) byte { return int8OrUint8(zp, t) }
