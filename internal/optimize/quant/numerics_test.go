package quant

import (
	"math"
	"testing"
)

func TestComputeParamsHandValues(t *testing.T) {
	cases := []struct {
		name        string
		lo, hi      float32
		typ         QType
		sym, reduce bool
		scale       float32
		zp          int32
	}{
		// scale = 3/255, zp = round(0 - (-1)/scale) = 85
		{"uint8 asym", -1, 2, Uint8, false, false, 3.0 / 255, 85},
		// range extended to contain 0: [0, 2] -> scale 2/255, zp 0
		{"uint8 positive", 0.5, 2, Uint8, false, false, 2.0 / 255, 0},
		// symmetric int8 uses [-127, 127]: scale 2*2/254
		{"int8 sym", -1, 2, Int8, true, false, 4.0 / 254, 0},
		// symmetric uint8: zero point round_half_even(127.5) = 128
		{"uint8 sym", -1, 2, Uint8, true, false, 4.0 / 255, 128},
		// int8 asym full range: scale 3/255, zp = round(-128 + 85) = -43
		{"int8 asym", -1, 2, Int8, false, false, 3.0 / 255, -43},
		// reduce range int8 [-64, 63]: scale 3/127, zp = round(-64 + 127/3) = round(-21.667) = -22
		{"int8 reduce", -1, 2, Int8, false, true, 3.0 / 127, -22},
		// reduce range uint8 [0, 127]
		{"uint8 reduce", -1, 2, Uint8, false, true, 3.0 / 127, 42},
		// all zero: scale 1 so dequantization is exact
		{"zero", 0, 0, Int8, true, false, 1, 0},
	}
	for _, c := range cases {
		p, err := ComputeParams(c.lo, c.hi, c.typ, c.sym, c.reduce)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if math.Abs(float64(p.Scale-c.scale)) > 1e-7 || p.ZeroPoint != c.zp {
			t.Errorf("%s: got scale %v zp %d, want %v %d", c.name, p.Scale, p.ZeroPoint, c.scale, c.zp)
		}
	}
}

func TestComputeParamsRejectsBadRanges(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, r := range [][2]float32{{nan, 1}, {0, inf}, {2, 1}} {
		if _, err := ComputeParams(r[0], r[1], Int8, false, false); err == nil {
			t.Errorf("range %v: want an error", r)
		}
	}
}

func TestQuantizeRoundsHalfToEvenAndSaturates(t *testing.T) {
	one := Params{Scale: 1}
	cases := []struct {
		x    float32
		p    Params
		typ  QType
		want int32
	}{
		{0.5, one, Int8, 0}, {1.5, one, Int8, 2}, {2.5, one, Int8, 2}, {-0.5, one, Int8, 0},
		{-1.5, one, Int8, -2}, {-2.5, one, Int8, -2}, {300, one, Int8, 127}, {-300, one, Int8, -128},
		{-5, one, Uint8, 0}, {256, one, Uint8, 255},
		{0.25, Params{Scale: 0.5, ZeroPoint: 10}, Uint8, 10}, // 0.5 rounds to 0, +10
		{0.75, Params{Scale: 0.5, ZeroPoint: 10}, Uint8, 12}, // 1.5 rounds to 2, +10
		{float32(math.NaN()), Params{Scale: 1, ZeroPoint: 3}, Uint8, 3},
		{float32(math.Inf(1)), one, Int8, 127},
	}
	for _, c := range cases {
		if got := QuantizeValue(c.x, c.p, c.typ); got != c.want {
			t.Errorf("quantize %v with %+v as %v = %d, want %d", c.x, c.p, c.typ, got, c.want)
		}
	}
}

func TestRoundTripErrorWithinHalfStep(t *testing.T) {
	for _, typ := range []QType{Int8, Uint8} {
		for _, sym := range []bool{false, true} {
			p, err := ComputeParams(-3.7, 5.1, typ, sym, false)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i <= 1000; i++ {
				x := -3.7 + 8.8*float32(i)/1000
				got := DequantizeValue(QuantizeValue(x, p, typ), p)
				if d := math.Abs(float64(got - x)); d > float64(p.Scale)/2*1.0001 {
					t.Fatalf("%v sym=%v: %v -> %v, error %v > half step %v", typ, sym, x, got, d, p.Scale/2)
				}
			}
			// zero is exact
			if DequantizeValue(QuantizeValue(0, p, typ), p) != 0 {
				t.Errorf("%v sym=%v: zero is not exactly representable", typ, sym)
			}
		}
	}
}

func TestLimitsAndParse(t *testing.T) {
	if lo, hi := Int8.Limits(true, false); lo != -127 || hi != 127 {
		t.Errorf("int8 symmetric limits = %d..%d", lo, hi)
	}
	if lo, hi := Uint8.Limits(false, false); lo != 0 || hi != 255 {
		t.Errorf("uint8 limits = %d..%d", lo, hi)
	}
	if _, err := ParseQType("int4"); err == nil {
		t.Error("int4 should be rejected")
	}
	if q, _ := ParseQType("uint8"); q != Uint8 || q.ONNXType() != 2 || Int8.ONNXType() != 3 {
		t.Error("type codes wrong")
	}
}

// The fast rounding path must agree with math.RoundToEven everywhere,
// including ties, values far outside the range and NaN.
func TestQuantizeIntoMatchesReference(t *testing.T) {
	ref := func(x float32, p Params, typ QType) int32 {
		lo, hi := typ.bounds()
		v := math.RoundToEven(float64(x/p.Scale)) + float64(p.ZeroPoint)
		if math.IsNaN(v) {
			return p.ZeroPoint
		}
		return int32(math.Max(lo, math.Min(hi, v)))
	}
	vals := []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5, 127.5, -128.5, 1e30, -1e30, 3e9,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i := -100000; i <= 100000; i++ {
		vals = append(vals, float32(i)*0.00731)
	}
	for _, typ := range []QType{Int8, Uint8} {
		for _, p := range []Params{{Scale: 1}, {Scale: 0.1, ZeroPoint: 3}, {Scale: 0.0078125, ZeroPoint: 128}, {Scale: 3.0 / 255, ZeroPoint: -43}} {
			if (typ == Int8 && p.ZeroPoint > 127) || (typ == Uint8 && p.ZeroPoint < 0) {
				continue
			}
			dst := make([]byte, len(vals))
			QuantizeInto(dst, vals, p, typ)
			for i, x := range vals {
				want := ref(x, p, typ)
				if got := ByteValue(dst[i], typ); got != want && !(math.IsNaN(float64(x)) && got == p.ZeroPoint) {
					t.Fatalf("%v %+v: quantize(%v) = %d, want %d", typ, p, x, got, want)
				}
			}
		}
	}
}

func BenchmarkQuantizeInto(b *testing.B) {
	src := make([]float32, 1<<20)
	for i := range src {
		src[i] = float32(i%1000)/500 - 1
	}
	dst := make([]byte, len(src))
	b.SetBytes(int64(4 * len(src)))
	for i := 0; i < b.N; i++ {
		QuantizeInto(dst, src, Params{Scale: 2.0 / 254}, Int8)
	}
}
