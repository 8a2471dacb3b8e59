// Package onnxpb holds the Go types generated from onnx.proto, mlops' copy of
// the ONNX model schema. Code outside internal/onnx should use the onnx
// package's Model and Graph types instead of reaching in here directly.
package onnxpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative onnx.proto
