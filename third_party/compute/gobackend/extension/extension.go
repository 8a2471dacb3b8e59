// Package extension exposes the Go backend's registration hooks (op builders, node executors,
// DotGeneral implementations, capabilities and graph transformations) to code outside this module.
//
// It is not part of upstream github.com/gomlx/compute: mlops added it (see third_party/README.md in
// the mlops repository) so that its own kernels can replace the backend's, at
// [PriorityUser], without changing any upstream file. Everything here is an alias of the
// internal package's API, so it follows upstream's semantics exactly.
//
// Registration must happen in init functions, before any graph is built.
package extension

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/internal/gobackend"
	"github.com/gomlx/compute/internal/gobackend/dot"
)

// Types of the Go backend's graph and execution.
type (
	Backend              = gobackend.Backend
	Builder              = gobackend.Builder
	Function             = gobackend.Function
	Node                 = gobackend.Node
	Buffer               = gobackend.Buffer
	NodeExecutor         = gobackend.NodeExecutor
	NodeDataComparable   = gobackend.NodeDataComparable
	RecomputableNodeData = gobackend.RecomputableNodeData
	RegisterPriority     = gobackend.RegisterPriority
	GraphTransformation  = gobackend.GraphTransformation

	// DotLayout is the normalized layout handed to a DotGeneral implementation.
	DotLayout = dot.Layout
	// DotGeneralFloat32 computes output[b, m, n] = Σ_k lhs[b, m, k]·rhs[b, k, n] (DotNonTransposed)
	// or Σ_k lhs[b, m, k]·rhs[b, n, k] (DotTransposed), writing every output element.
	DotGeneralFloat32 = dot.DotGeneralExecFn[float32, float32]
)

// Registration priorities: the highest registered one wins.
const (
	PriorityGeneric = gobackend.PriorityGeneric
	PriorityTyped   = gobackend.PriorityTyped
	PriorityArch    = gobackend.PriorityArch
	PriorityUser    = gobackend.PriorityUser
)

// DotGeneral layouts.
const (
	DotNonTransposed = dot.LayoutNonTransposed
	DotTransposed    = dot.LayoutTransposed
)

// Op builder registrations: call Register(fn, PriorityUser) on them to replace the builder.
var (
	RegisterConvGeneral         = &gobackend.RegisterConvGeneral
	RegisterDotGeneral          = &gobackend.RegisterDotGeneral
	RegisterTranspose           = &gobackend.RegisterTranspose
	RegisterReduceWindow        = &gobackend.RegisterReduceWindow
	RegisterSelectAndScatterMax = &gobackend.RegisterSelectAndScatterMax
	RegisterSelectAndScatterMin = &gobackend.RegisterSelectAndScatterMin
)

// Capabilities is the Go backend's capability table; an op registered here must be marked in
// Capabilities.Operations for gomlx to use it.
var Capabilities = &gobackend.Capabilities

// SetNodeExecutor sets the executor of an op type, if priority is at least the current one's.
func SetNodeExecutor(opType compute.OpType, priority RegisterPriority, executor NodeExecutor) {
	gobackend.SetNodeExecutor(opType, priority, executor)
}

// NodeExecutorOf returns the executor currently registered for opType (nil if none), so a
// replacement can hand the nodes it does not handle to the one it replaces.
func NodeExecutorOf(opType compute.OpType) NodeExecutor {
	return gobackend.NodeExecutorOf(opType)
}

// RegisterDotGeneralFloat32 registers a float32 DotGeneral implementation for one layout.
func RegisterDotGeneralFloat32(name string, layout DotLayout, fn DotGeneralFloat32, priority RegisterPriority) {
	dot.RegisterImplementation(name, layout, dtypes.Float32, dtypes.Float32, fn, priority, false)
}

// RegisterTransformation registers a graph transformation run at compilation, larger priorities first.
func RegisterTransformation(priority int, transformation GraphTransformation) {
	gobackend.RegisterTransformation(priority, transformation)
}
