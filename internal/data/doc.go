// Package data streams datasets into batches shaped for a model's inputs.
//
// Open reads .npy, .npz, CSV, JSONL and Parquet files (and labels from a
// separate .npy file or from a column/field) a batch at a time, so a dataset
// larger than memory can be evaluated or used for calibration. The caller
// describes the model's inputs with InputInfo (name, element type, shape with
// -1 for dynamic dimensions); this package never imports the runtime or the
// ONNX packages, so quantize, eval, monitor and tune can share it.
//
// ReadAll holds a whole dataset in memory instead (Dataset): one buffer per
// input, seeded validation splits (Split) and a fresh seeded row order per
// epoch (Epoch, Shuffle), for training loops; Dataset.Source streams it back
// to anything that takes a Source.
//
// Every batch is checked against the model: the messages name the input,
// the expected shape and the data field that did not fit. Optional
// preprocessing (Scale, Mean/Std normalisation, reshaping flat rows to the
// input's shape) is applied per element as rows are decoded. NaN values are
// rejected unless Spec.AllowNaN is set.
//
// The package holds no package-level mutable state and reads no environment
// variables. Decoders of untrusted bytes (the .npy header, CSV and JSONL
// records) are fuzzed; see the Fuzz* tests and testdata/fuzz.
package data
