// Package backend provides the compute backend that mlops retrain trains on: gomlx's pure-Go
// "go" backend (github.com/gomlx/compute/gobackend) with this package's kernels in place of the
// backend's own for the ops that dominate training small vision and tabular models.
//
// Call [New] for a backend; the kernels are registered with the go backend when this package is
// initialized (through the registration hooks that third_party/compute/gobackend/extension
// exposes), so every go backend in the process uses them.
//
// Kernels (float32):
//   - DotGeneral: a packed, blocked GEMM with an AVX2/FMA micro-kernel (portable Go elsewhere),
//     parallel over column tiles and, for long narrow products, over fixed chunks of the
//     contraction.
//   - ConvGeneral: the input patches (im2col) are packed straight into the GEMM's column strips,
//     so the convolution runs on the same micro-kernel; any axes layout, strides, padding, input
//     and kernel dilations, feature and batch groups.
//   - ReduceWindow (MaxPool, MinPool, SumPool) for float32 and float64, parallel over batch and
//     channels.
//   - SelectAndScatterMax/Min (the gradient of MaxPool/MinPool), which the go backend lacks:
//     float32 and float64, any rank, strides and padding; parallel over batch and channels.
//
// Every kernel is deterministic: the work is split by shape only, and each output element is
// summed in one fixed order, so the same inputs give bit-identical outputs run to run, whatever
// the scheduling.
package backend

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/gobackend/extension"
	"github.com/gomlx/gomlx/core/graph"
)

func init() {
	graph.VJPRegistration[graph.NodeTypeConvGeneral] = convVJP(graph.VJPRegistration[graph.NodeTypeConvGeneral])

	extension.RegisterDotGeneralFloat32("mlops-gemm", extension.DotNonTransposed, dotGeneral, extension.PriorityUser)
	extension.RegisterDotGeneralFloat32("mlops-gemm", extension.DotTransposed, dotGeneral, extension.PriorityUser)

	extension.RegisterConvGeneral.Register(convBuilder(extension.RegisterConvGeneral.Fn), extension.PriorityUser)
	extension.SetNodeExecutor(compute.OpTypeConvGeneral, extension.PriorityUser,
		convExecutor(extension.NodeExecutorOf(compute.OpTypeConvGeneral)))

	extension.RegisterReduceWindow.Register(reduceWindowBuilder(extension.RegisterReduceWindow.Fn), extension.PriorityUser)
	extension.SetNodeExecutor(compute.OpTypeReduceWindow, extension.PriorityUser,
		reduceWindowExecutor(extension.NodeExecutorOf(compute.OpTypeReduceWindow)))

	extension.RegisterSelectAndScatterMax.Register(selectAndScatterMax, extension.PriorityUser)
	extension.RegisterSelectAndScatterMin.Register(selectAndScatterMin, extension.PriorityUser)
	extension.SetNodeExecutor(compute.OpTypeSelectAndScatterMax, extension.PriorityUser, execSelectAndScatter)
	extension.SetNodeExecutor(compute.OpTypeSelectAndScatterMin, extension.PriorityUser, execSelectAndScatter)
	extension.Capabilities.Operations[compute.OpTypeSelectAndScatterMax] = true
	extension.Capabilities.Operations[compute.OpTypeSelectAndScatterMin] = true
}

// New returns a go backend that runs on all cores with this package's kernels.
func New() (compute.Backend, error) {
	return gobackend.New("")
}
