package onnx

//go:generate go run ./internal/gensynth -out ../../testdata/synthetic
