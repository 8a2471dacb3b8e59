// Package retrain fine-tunes and distils ONNX models in Go and writes the
// trained weights back into the same ONNX file.
//
// The ONNX graph is turned into a differentiable gomlx graph by onnx-gomlx
// and run on gomlx's pure-Go CPU backend. The model's float initializers are
// the trainable variables; after training their values are written back
// through internal/onnx, so every node, name, opset import, metadata prop and
// the external-data layout of the input survive and only initializer values
// change. Frozen by default: non-float initializers, single-value constants
// (epsilons, scales, exponents), inputs that ONNX treats as shapes or
// attributes, and BatchNormalization running statistics (updated only with
// UpdateBNStats).
//
// Trainable "head" fits only the final Gemm/MatMul(+Add) layer: ONNX Runtime
// computes the features feeding it, so it works for any graph ONNX Runtime
// can run, including ones the training backend cannot differentiate.
//
// Run is the entry point for the CLI and for in-process callers such as the
// tune command: Hyperparameters are reachable by name (Set, Get, Params), and
// Request.OnEpoch receives every epoch's metrics and may stop the run early.
// Training is deterministic: the same seed, data and machine give
// bit-identical weights, and resuming from a checkpoint continues the same
// sequence of updates.
//
// The package holds no package-level mutable state, reads no environment
// variables and never imports the CLI; every long operation takes a context
// and stops at the next batch when it is cancelled.
package retrain
