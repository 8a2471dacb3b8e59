package onnx

// Float16ViaGeneric exposes the generic minifloat encoder to external tests.
func Float16ViaGeneric(f float32) uint16 { return uint16(fmtFloat16().encode(float64(f))) }

// Float16DecodeGeneric exposes the generic minifloat decoder to external tests.
func Float16DecodeGeneric(h uint16) float32 { return float32(fmtFloat16().decode(uint32(h))) }
