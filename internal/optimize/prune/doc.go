// Package prune sets ONNX model weights to zero by magnitude, or removes whole
// channels and neurons, working on the deployable ONNX file itself.
//
// Unstructured pruning zeroes the smallest weights of every selected layer
// (scope "layer") or the smallest over all selected layers at once (scope
// "global", the rule of torch.nn.utils.prune.global_unstructured with L1
// importance: k = round(sparsity × total) weights with the smallest |w|).
// An N:M pattern zeroes the N smallest of every M consecutive weights along
// the input dimension of each layer. Element-wise, L1 and L2 rank weights
// identically; the criterion matters for structured pruning, where it is the
// norm of a whole channel.
//
// Structured pruning removes output channels of Conv and neurons of
// Gemm/MatMul and rewrites everything downstream that indexes the same axis
// (BatchNormalization parameters, biases, constant Add/Mul operands, the next
// layer's input channels, through element-wise ops, pooling and Flatten).
// A group whose dependents cannot be followed (Reshape, Concat, a residual
// Add, a graph output, ...) is left intact and reported with the reason.
//
// Only real weights are touched: the initializer feeding the weight input of
// a selected op, directly or through Identity/Transpose. Biases, BatchNorm
// statistics, shape constants and quantization parameters never are.
//
// The package reads no flags or environment; internal/cli/prune resolves
// options. Accuracy checks run models through internal/runtime on data from
// internal/data.
package prune
