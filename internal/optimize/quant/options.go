package quant

import (
	"errors"
	"fmt"
	"path"
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
	// KeepFP lists glob patterns (path.Match) of node, weight or output
	// names to keep in float, e.g. "lm_head*".
	KeepFP []string

	// Bits is 8 (the modes above; 0 means 8) or 4: weight-only block
	// quantization to com.microsoft MatMulNBits, where Mode and Format do
	// not apply.
	Bits int
	// BlockSize is the 4-bit block length along K (default 32).
	BlockSize int
	// Symmetric4 drops 4-bit zero points (each block's zero is 8).
	Symmetric4 bool
	// Algorithm picks 4-bit codes and parameters (default hqq).
	Algorithm Algorithm
	// AccuracyLevel is MatMulNBits' accuracy_level (0-4; 4 lets ORT
	// quantize A to int8 per block, its fastest CPU path).
	AccuracyLevel int
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

// nbitsOpTypes are the op types 4-bit mode rewrites.
var nbitsOpTypes = []string{"MatMul", "Gemm", "Gather"}

// DefaultBlockSize is the 4-bit block length when none is given.
const DefaultBlockSize = 32

// fourBit reports whether o selects 4-bit weight-only quantization.
func (o Options) fourBit() bool { return o.Bits == 4 }

// opTypes are the op types o can quantize.
func (o Options) opTypes() []string {
	if o.fourBit() {
		return slices.Clone(nbitsOpTypes)
	}
	return SupportedOpTypes(o.Mode)
}

// DefaultAlgorithm is the 4-bit algorithm when none is given: the best one
// that needs no data.
const DefaultAlgorithm = HQQ

// algorithm is Algorithm or its default.
func (o Options) algorithm() Algorithm {
	if o.Algorithm == "" {
		return DefaultAlgorithm
	}
	return o.Algorithm
}

// blockSize is BlockSize or its default.
func (o Options) blockSize() int {
	if o.BlockSize == 0 {
		return DefaultBlockSize
	}
	return o.BlockSize
}

// Validate checks option combinations and names the flag to change.
func (o Options) Validate() error {
	switch o.Bits {
	case 0, 8:
		if o.Algorithm != "" && o.Algorithm != RTN {
			return fmt.Errorf("--algorithm %s applies to --bits 4; 8-bit weights are rounded to nearest", o.Algorithm)
		}
	case 4:
		if o.Mode == Static {
			return errors.New("--bits 4 is weight-only (activations stay float): drop --mode static")
		}
		if b := o.blockSize(); !ValidBlockSize(b) {
			return fmt.Errorf("--block-size %d: use a power of two of at least 16 (32, 64, 128 or 256)", b)
		}
		switch o.Algorithm {
		case "", RTN, HQQ, GPTQ:
		default:
			return fmt.Errorf("--algorithm %q: use rtn, hqq or gptq", o.Algorithm)
		}
		if o.AccuracyLevel < 0 || o.AccuracyLevel > 4 {
			return fmt.Errorf("--accuracy-level %d: use 0 (unset), 1 (fp32), 2 (fp16), 3 (bf16) or 4 (int8)", o.AccuracyLevel)
		}
		for _, t := range o.OpTypes {
			if !slices.Contains(nbitsOpTypes, t) {
				return fmt.Errorf("--op-types %q: this op type cannot be quantized to 4 bits; choose from %s", t, strings.Join(nbitsOpTypes, ", "))
			}
		}
		for _, p := range o.KeepFP {
			if _, err := path.Match(p, ""); err != nil {
				return fmt.Errorf("--keep-fp %q: %v", p, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("--bits %d: use 8 or 4", o.Bits)
	}
	for _, p := range o.KeepFP {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--keep-fp %q: %v", p, err)
		}
	}
	switch o.Mode {
	case Dynamic, Static:
	default:
		return fmt.Errorf("--mode %q: use dynamic or static", o.Mode)
	}
	switch o.Format {
	case QDQ, QOperator:
	default:
		return fmt.Errorf("--format %q: use qdq or qoperator", o.Format)
	}
	supported := SupportedOpTypes(o.Mode)
	for _, t := range o.OpTypes {
		if !slices.Contains(supported, t) {
			return fmt.Errorf("--op-types %q: this op type cannot be quantized in %s mode; choose from %s", t, o.Mode, strings.Join(supported, ", "))
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
	if name != "" && matchAny(o.ExcludeNodes, name) {
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

// matchAny reports whether name equals one of pats or matches it as a glob.
func matchAny(pats []string, name string) bool {
	for _, p := range pats {
		if p == name {
			return true
		}
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// keepFP reports whether --keep-fp names this node (by node name, output
// or weight name).
func (o Options) keepFP(names ...string) bool {
	for _, n := range names {
		if n != "" && matchAny(o.KeepFP, n) {
			return true
		}
	}
	return false
}
