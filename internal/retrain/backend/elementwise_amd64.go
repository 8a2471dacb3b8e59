package backend

import "github.com/gomlx/compute"

// Assembly elementwise kernels (elementwise_amd64.s), used when hasAVX2.

//go:noescape
func addVVAVX2(dst, a, b *float32, n int)

//go:noescape
func addVSAVX2(dst, a *float32, n int, s float32)

//go:noescape
func addSVAVX2(dst, b *float32, n int, s float32)

//go:noescape
func subVVAVX2(dst, a, b *float32, n int)

//go:noescape
func subVSAVX2(dst, a *float32, n int, s float32)

//go:noescape
func subSVAVX2(dst, b *float32, n int, s float32)

//go:noescape
func mulVVAVX2(dst, a, b *float32, n int)

//go:noescape
func mulVSAVX2(dst, a *float32, n int, s float32)

//go:noescape
func mulSVAVX2(dst, b *float32, n int, s float32)

//go:noescape
func divVVAVX2(dst, a, b *float32, n int)

//go:noescape
func divVSAVX2(dst, a *float32, n int, s float32)

//go:noescape
func divSVAVX2(dst, b *float32, n int, s float32)

//go:noescape
func signAVX2(dst, a *float32, n int)

// accelVV computes the leading multiple of 8 elements of o = a op b in assembly and returns
// how many it did (0 without AVX2 or for other ops).
func accelVV(op compute.OpType, o, a, b []float32) int {
	n := len(o) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	switch op {
	case compute.OpTypeAdd:
		addVVAVX2(&o[0], &a[0], &b[0], n)
	case compute.OpTypeSub:
		subVVAVX2(&o[0], &a[0], &b[0], n)
	case compute.OpTypeMul:
		mulVVAVX2(&o[0], &a[0], &b[0], n)
	case compute.OpTypeDiv:
		divVVAVX2(&o[0], &a[0], &b[0], n)
	default:
		return 0
	}
	return n
}

// accelVS is accelVV for o = a op s.
func accelVS(op compute.OpType, o, a []float32, s float32) int {
	n := len(o) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	switch op {
	case compute.OpTypeAdd:
		addVSAVX2(&o[0], &a[0], n, s)
	case compute.OpTypeSub:
		subVSAVX2(&o[0], &a[0], n, s)
	case compute.OpTypeMul:
		mulVSAVX2(&o[0], &a[0], n, s)
	case compute.OpTypeDiv:
		divVSAVX2(&o[0], &a[0], n, s)
	default:
		return 0
	}
	return n
}

// accelSV is accelVV for o = s op b.
func accelSV(op compute.OpType, o []float32, s float32, b []float32) int {
	n := len(o) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	switch op {
	case compute.OpTypeAdd:
		addSVAVX2(&o[0], &b[0], n, s)
	case compute.OpTypeSub:
		subSVAVX2(&o[0], &b[0], n, s)
	case compute.OpTypeMul:
		mulSVAVX2(&o[0], &b[0], n, s)
	case compute.OpTypeDiv:
		divSVAVX2(&o[0], &b[0], n, s)
	default:
		return 0
	}
	return n
}

// accelSign computes the leading multiple of 8 elements of o = Sign(a) in assembly.
func accelSign(o, a []float32) int {
	n := len(o) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	signAVX2(&o[0], &a[0], n)
	return n
}
