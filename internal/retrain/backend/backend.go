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
//   - ConvGeneral on the same micro-kernel, any axes layout, strides, padding, input and kernel
//     dilations, feature and batch groups. Three layouts of the work: an implicit GEMM that
//     reads the input patches in place from a zero-padded copy (unit stride along rows of at
//     least 8 outputs: forward passes and input gradients), the transposed product for kernel
//     gradients (few outputs, long contraction), and otherwise im2col packed straight into the
//     GEMM's strips.
//   - ReduceWindow (MaxPool, MinPool, SumPool) for float32 and float64, parallel over batch and
//     channels.
//   - SelectAndScatterMax/Min (the gradient of MaxPool/MinPool), which the go backend lacks:
//     float32 and float64, any rank, strides and padding; parallel over batch and channels.
//   - The gradient of a convolution with respect to its input: gomlx v0.28.0 pads it as if the
//     kernel were centred, wrong for even kernels and asymmetric padding; convVJP replaces it
//     (see convvjp.go).
//   - Add, Sub, Mul, Div, Max, Min with implicit broadcasting, Sign, Neg, Abs, Transpose (by
//     tiles) and ReduceSum/Max/Min (sums in float64), for float32: parallel, over runs instead
//     of upstream's per-element index walk.
//   - Elementwise fusion: a compile-time pass merges each tree of those float32 elementwise ops
//     whose inner results have no other use (BatchNormalization's Sub/Div/Mul/Add, ReLU's
//     gradient) into its root, evaluated block by block in one pass over memory.
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

	for _, op := range []compute.OpType{compute.OpTypeAdd, compute.OpTypeSub, compute.OpTypeMul,
		compute.OpTypeDiv, compute.OpTypeMax, compute.OpTypeMin} {
		k, _ := binaryKernelOf(op)
		extension.SetNodeExecutor(op, extension.PriorityUser, binaryExecutor(k, extension.NodeExecutorOf(op)))
	}
	for _, op := range []compute.OpType{compute.OpTypeSign, compute.OpTypeNeg, compute.OpTypeAbs} {
		k, _ := unaryKernelOf(op)
		extension.SetNodeExecutor(op, extension.PriorityUser, unaryExecutor(k, extension.NodeExecutorOf(op)))
	}
	extension.RegisterTransformation(0, fuseElementwise{})
	extension.SetNodeExecutor(compute.OpTypeTranspose, extension.PriorityUser,
		transposeExecutor(extension.NodeExecutorOf(compute.OpTypeTranspose)))
	for _, op := range []compute.OpType{compute.OpTypeReduceSum, compute.OpTypeReduceMax, compute.OpTypeReduceMin} {
		extension.SetNodeExecutor(op, extension.PriorityUser, reduceExecutor(extension.NodeExecutorOf(op)))
	}

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
