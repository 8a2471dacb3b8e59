// Package runtime runs ONNX models with ONNX Runtime (ORT) through
// github.com/yalue/onnxruntime_go.
//
// It finds the ORT shared library (Locate), loads it once per process behind
// a handle (Open), and creates sessions (Runtime.NewSession) whose Run takes
// and returns plain Go tensors (Tensor: a data type, a shape and the element
// bytes in little-endian order) and stops when its context is cancelled.
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
// Only little-endian hosts (amd64, arm64) are supported: tensor bytes are
// handed to ORT as they are in memory.
package runtime
