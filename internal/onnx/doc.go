// Package onnx reads, edits, checks and writes ONNX models.
//
// It is the one place in mlops that knows the ONNX file format. Everything
// else works through these types:
//
//   - Load / Decode parse a model losslessly (fields our schema does not know
//     survive a round trip) and never read external tensor bytes up front.
//     Model.Save writes it back, choosing inline or external storage per tensor
//     and streaming external bytes file-to-file.
//   - DataType mirrors TensorProto.DataType with names and bit sizes.
//   - Typed tensor access is a set of functions taking the model (which knows
//     where external data lives) and a *onnxpb.TensorProto: Float32s, Int64s,
//     Float16s, ..., AsFloat64s for any numeric type, and SetFloat32s-style
//     setters that write raw_data. External bytes are memory-mapped on first
//     use; Model.Close releases the mappings.
//   - Graph indexes a GraphProto for optimizers: producers, consumers,
//     topological order, subgraphs with their outer scope, and edits.
//   - Check validates structure with messages that name the node path and
//     the offending value; Summarize describes a model for `mlops inspect`
//     without reading tensor bytes.
//
// The package holds no global state and does not import the CLI. A location
// in external data that would escape the model's folder is refused.
package onnx
