// Package onnx reads, edits, checks and writes ONNX models.
//
// It is the one place in mlops that knows the ONNX file format; other
// packages work through these types and should not need onnxpb beyond the
// generated message structs:
//
//   - Load / Decode parse a model losslessly (fields our schema does not know
//     survive a round trip, malformed bytes give ErrNotONNX, never a panic or
//     a giant allocation) and never read external tensor bytes up front.
//     Model.Save writes it back: every file goes to a temporary name in the
//     destination folder and is renamed into place; SaveOptions choose inline
//     or external storage per tensor (ExternalAuto, ExternalNever,
//     ExternalAlways, Threshold, Location, MaxFileBytes), and anything that
//     would push the protobuf past 2 GiB goes external. External bytes are
//     copied file to file, not loaded.
//   - External data locations are resolved relative to Model.Dir; absolute
//     paths, ".." and symbolic links leading outside the folder are refused
//     with ErrUnsafeLocation. External files are memory-mapped on first use;
//     Model.Close releases the mappings.
//   - DataType mirrors TensorProto.DataType with names (String, ParseDataType)
//     and sizes (Bits, ByteSize, StorageBytes).
//   - Typed tensor access is a set of functions taking the model (which knows
//     where external data lives) and a *onnxpb.TensorProto. Values[T] and
//     SetValues[T] handle the Go-native element types (Float32s and Int64s
//     are shorthands); AsFloat64s/AsFloat32s and AsInt64s convert from any
//     numeric type including FLOAT16, BFLOAT16, the float8 and float4 types
//     and packed INT4/UINT4/INT2/UINT2; SetFromFloat32s and SetFromInt64s
//     encode into them. RawBytes gives the little-endian raw_data layout
//     whichever field stores the data. Setters always write raw_data.
//     Float16ToFloat32, Float32ToBFloat16, Float32ToFloat8 and friends
//     convert single values (round to nearest even, ONNX saturation rules).
//   - Graph indexes a GraphProto for optimizers: Producer, Consumers (a
//     subgraph's use of an outer value counts as a use by its owner node),
//     Topo, Walk into If/Loop/Scan bodies, scoped Initializer and ValueInfo
//     lookup, Insert/Replace/RemoveNode, ReplaceAllUses, RemoveDeadNodes,
//     RemoveUnusedInitializers and UniqueName. OpsetVersion and Opsets read
//     the imports.
//   - Check validates structure and returns a *CheckError whose Problems
//     name the node path and offending value. Summarize describes a model
//     for `mlops inspect` without reading tensor bytes.
//
// The package holds no global state, reads no environment and does not
// import the CLI. A Model is not safe for concurrent mutation; reading
// tensor data from several goroutines is safe.
package onnx
