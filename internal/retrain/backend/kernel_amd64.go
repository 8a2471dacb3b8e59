package backend

import "golang.org/x/sys/cpu"

// hasAVX2 selects the assembly micro-kernel; it is fixed for the life of the process.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func microKernelAVX2(kc int, a, b, c *float32, ldc int, accumulate bool)

// microKernel computes c[r*ldc+q] (+)= Σ_p a[p*mr+r]·b[p*nr+q] for the mr×nr tile at c.
func microKernel(kc int, a, b, c []float32, ldc int, accumulate bool) {
	if !hasAVX2 {
		microKernelGo(kc, a, b, c, ldc, accumulate)
		return
	}
	// Bounds the assembly relies on, checked once here.
	_ = a[kc*mr-1]
	_ = b[kc*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	microKernelAVX2(kc, &a[0], &b[0], &c[0], ldc, accumulate)
}

//go:noescape
func microKernelIndirectAVX2(kc int, a, b *float32, offs *int, c *float32, ldc int, accumulate bool)

// microKernelIndirect is microKernel with row p of B read at b[offs[p]:offs[p]+nr].
func microKernelIndirect(kc int, a, b []float32, offs []int, c []float32, ldc int, accumulate bool) {
	if !hasAVX2 {
		microKernelIndirectGo(kc, a, b, offs, c, ldc, accumulate)
		return
	}
	_ = a[kc*mr-1]
	_ = offs[kc-1]
	_ = c[(mr-1)*ldc+nr-1]
	microKernelIndirectAVX2(kc, &a[0], &b[0], &offs[0], &c[0], ldc, accumulate)
}
