// Package export turns trained models into deployable ONNX and reshapes
// ONNX models: export from PyTorch through the user's own Python (an
// embedded helper script drives torch.onnx.export, nothing is installed),
// float16 conversion, graph optimisations, symbolic-dimension fixing,
// metadata, safetensors weight import/export and external-data layout.
//
// Run applies the transformations of a Request in one fixed order (see
// Steps) and measures, through ONNX Runtime, how far the outputs of the
// result are from those of the input on seeded random inputs.
//
// The package holds no global state, reads no environment variables and
// does not import the CLI; callers pass the runtime and the Python path in.
package export
