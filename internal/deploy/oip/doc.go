// Package oip holds the Open Inference Protocol (KServe v2) wire types and
// their codecs: JSON request/response bodies with nested or flat tensor data,
// and Triton's binary tensor extension (a JSON header followed by raw
// little-endian tensor bytes).
//
// Tensors are kept in one representation, Tensor, whose fixed-size elements
// are raw little-endian bytes: that is what ONNX Runtime consumes and what the
// binary extension carries, so neither path converts element by element.
//
// Decoders here read untrusted bytes. They never allocate more than a small
// multiple of the input size and report bad input as *Error values carrying
// an HTTP status; they must never panic (see the fuzz tests).
//
// The package knows nothing about HTTP routing, models or ONNX Runtime.
package oip
