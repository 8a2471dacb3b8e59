// Package runtime runs ONNX models with ONNX Runtime (ORT) through
// github.com/yalue/onnxruntime_go.
//
// It finds the ORT shared library (Locate, LocateLibrary), loads it once per
// process behind a handle (Open), and creates sessions (Runtime.NewSession,
// NewSessionContext) from a model path or bytes. Session.Run takes and
// returns plain Go tensors — Tensor: an element type, a shape and the
// elements' bytes in little-endian order, or strings — is safe for
// concurrent use, and stops when its context is cancelled (ORT's
// RunOptions terminate flag). NewTensorFloat32 and friends copy their input;
// ShareTensor shares it for large inputs. Session.Inputs and Outputs
// describe the model's tensors with -1 and the symbolic name for dynamic
// dimensions.
//
// What it must not do: read environment variables or configuration files (the
// CLI resolves --ort-lib, MLOPS_ORT_LIB and the config key ort_lib and passes
// the result in LocateOptions), import anything under internal/cli, or leak
// onnxruntime_go types through its API, so that callers never depend on the
// binding.
//
// ORT's environment is process-global in onnxruntime_go. This package keeps the
// only package-level state in mlops that is allowed to exist for that reason:
// which library was loaded. A second Open with the same library returns a new
// handle to the same environment; Open with a different library is an error.
//
// Limits inherited from onnxruntime_go v1.36.0, reported as errors rather than
// worked around silently: outputs of element types it has no Go type for
// (FLOAT16, BFLOAT16, FLOAT8, INT4, ...) are returned only when their shape is
// known before running (declared, or with symbolic dimensions that also
// appear in an input, like a batch dimension); rank-0 STRING and FLOAT16
// tensors are not supported; models need at least one input and one output;
// sequence and map values are not returned. ORT computes every output of the
// model on each Run; the ones not asked for are dropped.
//
// Only little-endian hosts (amd64, arm64) are supported: tensor bytes are
// handed to ORT as they are in memory.
package runtime
