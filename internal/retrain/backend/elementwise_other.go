//go:build !amd64

package backend

import "github.com/gomlx/compute"

// Without the assembly kernels the Go loops do all the work.

func accelVV(compute.OpType, []float32, []float32, []float32) int { return 0 }
func accelVS(compute.OpType, []float32, []float32, float32) int   { return 0 }
func accelSV(compute.OpType, []float32, float32, []float32) int   { return 0 }
func accelSign([]float32, []float32) int                          { return 0 }
