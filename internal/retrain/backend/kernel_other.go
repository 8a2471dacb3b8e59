//go:build !amd64

package backend

const hasAVX2 = false

func microKernel(kc int, a, b, c []float32, ldc int, accumulate bool) {
	microKernelGo(kc, a, b, c, ldc, accumulate)
}

func microKernelIndirect(kc int, a, b []float32, offs []int, c []float32, ldc int, accumulate bool) {
	microKernelIndirectGo(kc, a, b, offs, c, ldc, accumulate)
}
