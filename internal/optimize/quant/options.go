package quant

import (
	"fmt"
	"slices"
	"strings"
)

// Mode is when activations are quantized.
type Mode string

// Modes.
const (
	// Dynamic quantizes weights offline and activations at run time.
	Dynamic Mode = "dynamic"
	// Static quantizes activations with ranges calibrated on data.
	Static Mode = "static"
)

// Format is how a static model expresses quantization.
type Format string

// Formats.
const (
	// QDQ wraps float ops in QuantizeLinear/DequantizeLinear pairs; ONNX
	// Runtime fuses them into integer kernels.
	QDQ Format = "qdq"
	// QOperator replaces float ops by QLinearConv, QLinearMatMul, QGemm.
	QOperator Format = "qoperator"
)

// Options choose what is quantized and how. The zero value (after
// WithDefaults) is ORT's quantize_dynamic default: int8 symmetric weights.
type Options struct {
	Mode   Mode
	Format Format

	WeightType QType
	// ActivationType applies to static mode; dynamic mode always quantizes
	// activations to uint8 (DynamicQuantizeLinear's only output type).
	ActivationType       QType
	SymmetricWeights     bool
	SymmetricActivations bool
	ReduceRange          bool

	// PerChannel lists op types whose weights get one scale per output
	// channel; "all" means every op type.
	PerChannel []string
	// OpTypes restricts quantization to these op types (default: all the
	// mode supports).
	OpTypes        []string
	ExcludeNodes   []string
	ExcludeOpTypes []string
}

// DynamicOpTypes are the op types dynamic mode rewrites.
var dynamicOpTypes = []string{"MatMul", "Gemm", "Conv", "Gather"}

// staticOpTypes are the op types static mode rewrites (both formats).
var staticOpTypes = []string{"Conv", "MatMul", "Gemm"}

// SupportedOpTypes lists the op types mode can quantize.
func SupportedOpTypes(mode Mode) []string {
	if mode == Static {
		return slices.Clone(staticOpTypes)
	}
	return slices.Clone(dynamicOpTypes)
}

// Validate checks option combinations and names the flag to change.
func (o Options) Validate() error {
	switch o.Mode {
	case Dynamic, Static:
	default:
		return fmt.Errorf("unknown mode %q: use dynamic or static", o.Mode)
	}
	switch o.Format {
	case QDQ, QOperator:
	default:
		return fmt.Errorf("unknown format %q: use qdq or qoperator", o.Format)
	}
	supported := SupportedOpTypes(o.Mode)
	for _, t := range o.OpTypes {
		if !slices.Contains(supported, t) {
			return fmt.Errorf("op type %q cannot be quantized in %s mode: choose from %s", t, o.Mode, strings.Join(supported, ", "))
		}
	}
	for _, t := range o.PerChannel {
		if t != "all" && !slices.Contains(supported, t) {
			return fmt.Errorf("--per-channel %q: not a quantized op type; choose from all, %s", t, strings.Join(supported, ", "))
		}
	}
	return nil
}

func (o Options) perChannel(op string) bool {
	return slices.Contains(o.PerChannel, "all") || slices.Contains(o.PerChannel, op)
}

// wants reports whether node (name, op) is selected, and why not.
func (o Options) wants(name, op string) (bool, string) {
	if slices.Contains(o.ExcludeNodes, name) && name != "" {
		return false, "excluded by --exclude-nodes"
	}
	if slices.Contains(o.ExcludeOpTypes, op) {
		return false, "excluded by --exclude-op-types"
	}
	if len(o.OpTypes) > 0 && !slices.Contains(o.OpTypes, op) {
		return false, "not in --op-types"
	}
	return true, ""
}
