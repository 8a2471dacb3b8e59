package onnx

import "math"

// minifloat describes a small binary floating-point format: float16,
// bfloat16 and the float8/float4 variants of the ONNX spec.
type minifloat struct {
	exp, man int  // field widths in bits
	bias     int  // exponent bias
	ieee     bool // all-ones exponent encodes Inf (mantissa 0) and NaN
	fn       bool // "finite": no Inf; all-ones exponent and mantissa is NaN (E4M3FN)
	uz       bool // "unsigned zero": no Inf, no -0; the -0 code is NaN (FNUZ)
	sat      bool // finite values beyond the range clamp to the largest value
}

// The formats are values, not package variables, so nothing global can change them.
const (
	f16Exp, f16Man, f16Bias = 5, 10, 15
)

func fmtFloat16() minifloat { return minifloat{exp: f16Exp, man: f16Man, bias: f16Bias, ieee: true} }

func (f minifloat) signBit() uint32 { return 1 << (f.exp + f.man) }
func (f minifloat) expMask() uint32 { return 1<<f.exp - 1 }
func (f minifloat) manMask() uint32 { return 1<<f.man - 1 }

func (f minifloat) nanCode() uint32 {
	switch {
	case f.uz:
		return f.signBit()
	case f.fn, f.ieee:
		return f.expMask()<<f.man | f.manMask()
	}
	return 0 // float4 has no NaN; callers map NaN to 0 like ONNX does
}

// maxCode is the largest finite positive value.
func (f minifloat) maxCode() uint32 {
	switch {
	case f.ieee:
		return (f.expMask()-1)<<f.man | f.manMask()
	case f.fn:
		return f.expMask()<<f.man | (f.manMask() - 1)
	}
	return f.expMask()<<f.man | f.manMask()
}

func (f minifloat) decode(c uint32) float64 {
	neg := c&f.signBit() != 0
	e := (c >> f.man) & f.expMask()
	m := c & f.manMask()
	switch {
	case f.uz && c == f.signBit():
		return math.NaN()
	case f.fn && e == f.expMask() && m == f.manMask():
		return math.NaN()
	case f.ieee && e == f.expMask():
		if m != 0 {
			return math.NaN()
		}
		if neg {
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	var v float64
	if e == 0 {
		v = math.Ldexp(float64(m), 1-f.bias-f.man)
	} else {
		v = math.Ldexp(float64(m|1<<f.man), int(e)-f.bias-f.man)
	}
	if neg {
		v = -v
	}
	return v
}

// encode rounds x to the nearest representable value (ties to even).
// float16 and bfloat16 overflow to Inf; float8 and float4 types saturate
// finite values to their largest one, as ONNX Cast does with saturate=1
// (Inf stays Inf for E5M2, becomes the largest value for E4M3FN and NaN for
// the FNUZ types).
func (f minifloat) encode(x float64) uint32 {
	if math.IsNaN(x) {
		return f.nanCode()
	}
	var sign uint32
	if math.Signbit(x) {
		sign = f.signBit()
		x = -x
	}
	maxV := f.decode(f.maxCode())
	if math.IsInf(x, 0) {
		switch {
		case f.ieee:
			return sign | f.expMask()<<f.man
		case f.uz:
			return f.nanCode()
		}
		return sign | f.maxCode()
	}
	if (f.sat || !f.ieee) && x >= maxV {
		return sign | f.maxCode()
	}
	var code uint32
	minNormal := math.Ldexp(1, 1-f.bias)
	if x < minNormal {
		q := math.RoundToEven(math.Ldexp(x, f.bias-1+f.man))
		code = uint32(q) // q == 1<<man is the smallest normal, encoded the same way
	} else {
		_, e2 := math.Frexp(x) // x = frac * 2^e2, frac in [0.5, 1)
		e := e2 - 1
		q := math.RoundToEven(math.Ldexp(x, f.man-e))
		if q >= math.Ldexp(1, f.man+1) {
			e++
			q = math.Ldexp(q, -1)
		}
		ef := e + f.bias
		if f.ieee && ef >= int(f.expMask()) {
			return sign | f.expMask()<<f.man // overflow to Inf
		}
		code = uint32(ef)<<f.man | (uint32(q) & f.manMask())
		if !f.ieee && code > f.maxCode() {
			code = f.maxCode()
		}
	}
	if f.uz && code == 0 {
		return 0 // no negative zero
	}
	return sign | code
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32 (exact).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf, NaN (payload kept)
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise into a float32 normal
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// Float32ToFloat16 converts to IEEE half precision, rounding to nearest
// even; values beyond the half range become Inf, NaN stays NaN.
func Float32ToFloat16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int32(u>>23) & 0xff
	man := u & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00 | uint16(man>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	switch {
	case e >= 0x1f:
		return sign | 0x7c00
	case e < -10: // below half the smallest subnormal: rounds to zero
		return sign
	case e <= 0: // subnormal half
		full := man | 0x800000
		shift := uint32(14 - e)
		h := full >> shift
		rem, halfway := full&(1<<shift-1), uint32(1)<<(shift-1)
		if rem > halfway || (rem == halfway && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	if rem := man & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(h)
}

// BFloat16ToFloat32 converts bfloat16 bits to float32 (exact).
func BFloat16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// Float32ToBFloat16 converts to bfloat16, rounding to nearest even; NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	u := math.Float32bits(f)
	if f != f {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// Float8ToFloat32 decodes one float8 or float4 code of type dt (FLOAT8E4M3FN,
// FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT8E8M0, FLOAT4E2M1).
func Float8ToFloat32(dt DataType, c uint8) float32 {
	if dt == Float8E8M0 {
		if c == 0xff {
			return float32(math.NaN())
		}
		return float32(math.Ldexp(1, int(c)-127))
	}
	f, ok := smallFloatFormat(dt)
	if !ok {
		return float32(math.NaN())
	}
	return float32(f.decode(uint32(c)))
}

// Float32ToFloat8 encodes x as type dt, rounding to nearest even and
// saturating like ONNX Cast(saturate=1). FLOAT8E8M0 rounds up to a power of
// two (ONNX's default round_mode "up"); zero, negative and NaN inputs have no
// E8M0 encoding except NaN (0xff), and tiny values become 2^-127.
func Float32ToFloat8(dt DataType, x float32) uint8 {
	if dt == Float8E8M0 {
		v := float64(x)
		if !(v > 0) || math.IsInf(v, 1) {
			if v == 0 {
				return 0
			}
			return 0xff
		}
		e := int(math.Ceil(math.Log2(v)))
		return uint8(min(max(e, -127), 127) + 127)
	}
	f, ok := smallFloatFormat(dt)
	if !ok {
		return 0
	}
	return uint8(f.encode(float64(x)))
}

func smallFloatFormat(dt DataType) (minifloat, bool) {
	switch dt {
	case Float8E4M3FN:
		return minifloat{exp: 4, man: 3, bias: 7, fn: true}, true
	case Float8E4M3FNUZ:
		return minifloat{exp: 4, man: 3, bias: 8, uz: true}, true
	case Float8E5M2:
		return minifloat{exp: 5, man: 2, bias: 15, ieee: true, sat: true}, true
	case Float8E5M2FNUZ:
		return minifloat{exp: 5, man: 2, bias: 16, uz: true}, true
	case Float4E2M1:
		return minifloat{exp: 2, man: 1, bias: 1}, true
	}
	return minifloat{}, false
}
