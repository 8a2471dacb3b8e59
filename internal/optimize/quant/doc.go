// Package quant turns float32 ONNX models into int8/uint8 models that ONNX
// Runtime executes with integer kernels.
//
// It has three layers:
//   - numerics (this file's siblings numerics.go, weights.go): scale and zero
//     point selection and quantize/dequantize exactly as the ONNX
//     QuantizeLinear/DequantizeLinear operators define them (round half to
//     even, saturation to the quantized type, zero point of the quantized type);
//   - graph rewrites for the dynamic, static QDQ and static QOperator modes,
//     which work on an onnx.Graph and descend into If/Loop/Scan bodies;
//   - calibration, which runs the float model through internal/runtime with
//     intermediate tensors exposed and feeds bounded-memory collectors from
//     internal/optimize/calib.
//
// The package reads no flags, environment or files other than the models and
// data it is handed; the CLI (internal/cli/quantize) resolves options.
package quant
