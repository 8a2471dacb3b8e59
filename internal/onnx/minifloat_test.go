package onnx_test

import (
	"math"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
)

func TestFloat16MatchesNumpy(t *testing.T) {
	// Expected bits from numpy: np.float32(v).astype(np.float16).view(np.uint16).
	for _, tc := range []struct {
		v    float32
		bits uint16
	}{
		{1, 0x3c00}, {65504, 0x7bff}, {65520, 0x7c00}, {65519.98828125, 0x7bff},
		{1e-8, 0}, {5.96e-8, 1}, {2.9802322387695312e-08, 0}, {2.980232594040899e-08, 1},
		{0.1, 0x2e66}, {-3.14159, 0xc248}, {1.0 / 3, 0x3555}, {1.00048828125, 0x3c00},
		{1.00146484375, 0x3c02}, {6.1e-5, 0x3ff}, {1e5, 0x7c00}, {float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := onnx.Float32ToFloat16(tc.v); got != tc.bits {
			t.Errorf("Float32ToFloat16(%v) = %#x, want %#x", tc.v, got, tc.bits)
		}
	}
	// Every half value converts to float32 and back unchanged.
	for h := 0; h < 1<<16; h++ {
		f := onnx.Float16ToFloat32(uint16(h))
		if f != f {
			if back := onnx.Float32ToFloat16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#x came back as %#x", h, back)
			}
			continue
		}
		if back := onnx.Float32ToFloat16(f); back != uint16(h) {
			t.Fatalf("%#x → %v → %#x", h, f, back)
		}
	}
}

func TestBFloat16(t *testing.T) {
	for _, tc := range []struct {
		v    float32
		bits uint16
	}{
		{1, 0x3f80}, {-2, 0xc000}, {3.140625, 0x4049},
		{math.Float32frombits(0x3f808000), 0x3f80}, // tie, even stays
		{math.Float32frombits(0x3f818000), 0x3f82}, // tie, odd rounds up
		{math.Float32frombits(0x3f808001), 0x3f81},
		{float32(math.Inf(1)), 0x7f80},
	} {
		if got := onnx.Float32ToBFloat16(tc.v); got != tc.bits {
			t.Errorf("Float32ToBFloat16(%v) = %#x, want %#x", tc.v, got, tc.bits)
		}
		if tc.v == onnx.BFloat16ToFloat32(tc.bits) && onnx.Float32ToBFloat16(onnx.BFloat16ToFloat32(tc.bits)) != tc.bits {
			t.Errorf("%#x does not round-trip", tc.bits)
		}
	}
	if nan := onnx.Float32ToBFloat16(float32(math.NaN())); onnx.BFloat16ToFloat32(nan) == onnx.BFloat16ToFloat32(nan) {
		t.Errorf("NaN became %#x", nan)
	}
}

func TestFloat8AndFloat4(t *testing.T) {
	type pt struct {
		v    float32
		code uint8
	}
	cases := map[onnx.DataType][]pt{
		// Largest finite values, 1.0 and smallest subnormals from the ONNX
		// float8 spec (docs/docsgen/source/technical/float8.md).
		onnx.Float8E4M3FN:   {{448, 0x7e}, {1, 0x38}, {-1, 0xb8}, {0.001953125, 0x01}, {1000, 0x7e}, {-1000, 0xfe}},
		onnx.Float8E4M3FNUZ: {{240, 0x7f}, {1, 0x40}, {0.0009765625, 0x01}, {1000, 0x7f}, {float32(math.Copysign(0, -1)), 0}},
		onnx.Float8E5M2:     {{57344, 0x7b}, {1, 0x3c}, {1.52587890625e-05, 0x01}, {float32(math.Inf(1)), 0x7c}, {1e6, 0x7b}, {-1e6, 0xfb}},
		onnx.Float8E5M2FNUZ: {{57344, 0x7f}, {1, 0x40}, {7.62939453125e-06, 0x01}},
		onnx.Float4E2M1:     {{6, 0x7}, {1, 0x2}, {-1, 0xa}, {0.5, 0x1}, {2.5, 0x4}, {100, 0x7}},
		onnx.Float8E8M0:     {{1, 127}, {2, 128}, {0.5, 126}, {3, 129}},
	}
	for dt, pts := range cases {
		for _, p := range pts {
			if got := onnx.Float32ToFloat8(dt, p.v); got != p.code {
				t.Errorf("%v: encode(%v) = %#x, want %#x", dt, p.v, got, p.code)
			}
		}
	}
	nan := map[onnx.DataType]uint8{onnx.Float8E4M3FN: 0x7f, onnx.Float8E4M3FNUZ: 0x80, onnx.Float8E5M2FNUZ: 0x80, onnx.Float8E8M0: 0xff}
	for dt, code := range nan {
		if v := onnx.Float8ToFloat32(dt, code); v == v {
			t.Errorf("%v: %#x decodes to %v, want NaN", dt, code, v)
		}
	}
	// Every finite code decodes and encodes back to itself, and positive
	// codes are ordered like their values.
	for _, dt := range []onnx.DataType{onnx.Float8E4M3FN, onnx.Float8E4M3FNUZ, onnx.Float8E5M2, onnx.Float8E5M2FNUZ, onnx.Float4E2M1, onnx.Float8E8M0} {
		top := 256
		if dt == onnx.Float4E2M1 {
			top = 16
		}
		prev := float32(math.Inf(-1))
		for c := 0; c < top; c++ {
			v := onnx.Float8ToFloat32(dt, uint8(c))
			if v != v || math.IsInf(float64(v), 0) {
				continue
			}
			if back := onnx.Float32ToFloat8(dt, v); back != uint8(c) && !(v == 0 && c != 0) {
				t.Errorf("%v: %#x → %v → %#x", dt, c, v, back)
			}
			if c < top/2 || dt == onnx.Float8E8M0 {
				if v <= prev && c > 0 {
					t.Errorf("%v: code %#x (%v) not above the previous (%v)", dt, c, v, prev)
				}
				prev = v
			}
		}
	}
}

// The bit-twiddling float16 conversions agree with the generic minifloat
// arithmetic over a dense sample of float32 bit patterns.
func TestFloat16MatchesGenericFormat(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		fast, generic := onnx.Float16ToFloat32(uint16(h)), onnx.Float16DecodeGeneric(uint16(h))
		if math.Float32bits(fast) != math.Float32bits(generic) && !(fast != fast && generic != generic) {
			t.Fatalf("%#x: fast %v, generic %v", h, fast, generic)
		}
	}
	for u := uint64(0); u < 1<<32; u += 997 {
		f := math.Float32frombits(uint32(u))
		got, want := onnx.Float32ToFloat16(f), onnx.Float16ViaGeneric(f)
		if f != f {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("NaN %#x → %#x", u, got)
			}
			continue
		}
		if got != want {
			t.Fatalf("%v (%#x): fast %#x, generic %#x", f, u, got, want)
		}
	}
}
