package runtime

import (
	"math"
	"testing"
)

func TestFloat16RoundTripsEveryValue(t *testing.T) {
	for h := 0; h <= 0xffff; h++ {
		f := Float16ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
				t.Fatalf("%#04x decoded to NaN", h)
			}
			if back := Float32ToFloat16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x re-encoded as %#04x", h, back)
			}
			continue
		}
		if back := Float32ToFloat16(f); back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
}

func TestFloat16Rounding(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},                      // largest half
		{65520, 0x7c00},                      // rounds up to +Inf
		{1e10, 0x7c00},                       // overflow
		{float32(math.Inf(-1)), 0xfc00},      //
		{1 + 1.0/2048, 0x3c00},               // tie, rounds to even (down)
		{1 + 3.0/2048, 0x3c02},               // tie, rounds to even (up)
		{float32(math.Ldexp(1, -24)), 0x1},   // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0},   // tie to even: zero
		{float32(math.Ldexp(3, -26)), 0x1},   // 0.75 ulp rounds up
		{float32(math.Ldexp(1, -14)), 0x400}, // smallest normal
		{float32(math.Ldexp(1023, -24)) + float32(math.Ldexp(1, -25)), 0x400}, // subnormal carries into normal
		{1e-30, 0x0},
	}
	for _, c := range cases {
		if got := Float32ToFloat16(c.f); got != c.want {
			t.Errorf("Float32ToFloat16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

func TestBFloat16(t *testing.T) {
	for h := 0; h <= 0xffff; h++ {
		f := BFloat16ToFloat32(uint16(h))
		back := Float32ToBFloat16(f)
		if math.IsNaN(float64(f)) {
			if !math.IsNaN(float64(BFloat16ToFloat32(back))) {
				t.Fatalf("NaN %#04x re-encoded as %#04x", h, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
	// 1 + 2^-8 is halfway between bfloat16 1 and 1+2^-7: ties to even.
	if got := Float32ToBFloat16(1 + 1.0/256); got != 0x3f80 {
		t.Errorf("tie: got %#04x, want 0x3f80", got)
	}
	if got := Float32ToBFloat16(1 + 3.0/256); got != 0x3f82 {
		t.Errorf("tie: got %#04x, want 0x3f82", got)
	}
}
