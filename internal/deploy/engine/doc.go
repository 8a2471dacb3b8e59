// Package engine is the model-serving core behind `mlops serve`: a set of
// named models, each with a primary version and an optional canary, every
// version owning a Backend (an ONNX Runtime session in production, a fake in
// tests) and a batcher.
//
// It validates requests against model metadata before they reach a backend,
// routes canary traffic, and reloads models without dropping requests: the
// new version is loaded and warmed beside the old one, swapped in atomically,
// and the old one is drained (every request that already holds it finishes)
// before it is closed. A failed load leaves the old version serving.
//
// The engine knows nothing about HTTP; package server maps it to the Open
// Inference Protocol.
package engine
