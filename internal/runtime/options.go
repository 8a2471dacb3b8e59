package runtime

import (
	"fmt"
	"strconv"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// GraphOptimization is ORT's graph optimisation level. The zero value is
// ORT's default, all optimisations.
type GraphOptimization int

// The graph optimisation levels, most first.
const (
	OptimizeAll GraphOptimization = iota
	OptimizeExtended
	OptimizeBasic
	OptimizeDisabled
)

var optimizationNames = map[GraphOptimization]string{
	OptimizeAll: "all", OptimizeExtended: "extended", OptimizeBasic: "basic", OptimizeDisabled: "disabled",
}

func (g GraphOptimization) String() string {
	if s, ok := optimizationNames[g]; ok {
		return s
	}
	return fmt.Sprintf("GraphOptimization(%d)", int(g))
}

// ParseGraphOptimization accepts all, extended, basic, disabled (or none).
func ParseGraphOptimization(s string) (GraphOptimization, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "all":
		return OptimizeAll, nil
	case "extended":
		return OptimizeExtended, nil
	case "basic":
		return OptimizeBasic, nil
	case "disabled", "disable", "none", "off":
		return OptimizeDisabled, nil
	}
	return 0, fmt.Errorf("unknown graph optimisation level %q: use all, extended, basic or disabled", s)
}

func (g GraphOptimization) ort() (ort.GraphOptimizationLevel, error) {
	switch g {
	case OptimizeAll:
		return ort.GraphOptimizationLevelEnableAll, nil
	case OptimizeExtended:
		return ort.GraphOptimizationLevelEnableExtended, nil
	case OptimizeBasic:
		return ort.GraphOptimizationLevelEnableBasic, nil
	case OptimizeDisabled:
		return ort.GraphOptimizationLevelDisableAll, nil
	}
	return 0, fmt.Errorf("unknown graph optimisation level %d", int(g))
}

// ArenaMode is how ORT's CPU allocator keeps memory between runs.
type ArenaMode int

const (
	// ArenaKeep is ORT's default: a memory arena that grows to the largest
	// run's needs and keeps that memory for the session's life.
	ArenaKeep ArenaMode = iota
	// ArenaShrink keeps the arena but frees its unused regions after every
	// run, so one large input does not pin its peak memory.
	ArenaShrink
	// ArenaOff allocates every tensor from the system allocator.
	ArenaOff
)

var arenaNames = map[ArenaMode]string{ArenaKeep: "keep", ArenaShrink: "shrink", ArenaOff: "off"}

func (a ArenaMode) String() string {
	if s, ok := arenaNames[a]; ok {
		return s
	}
	return fmt.Sprintf("ArenaMode(%d)", int(a))
}

// ParseArenaMode accepts keep, shrink and off.
func ParseArenaMode(s string) (ArenaMode, error) {
	for m, name := range arenaNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown arena mode %q: use keep, shrink or off", s)
}

// SessionOptions configure a session. The zero value uses ORT's defaults on
// the CPU.
type SessionOptions struct {
	// IntraOpThreads and InterOpThreads size ORT's thread pools; 0 lets ORT
	// choose (one per physical core for intra-op).
	IntraOpThreads int
	InterOpThreads int
	// GraphOptimization is the level of ORT's graph rewrites.
	GraphOptimization GraphOptimization
	// Providers are execution providers in order of preference: "cpu",
	// "cuda" or "cuda:N" for device N. Empty means CPU only. ORT always
	// falls back to the CPU for operators a provider does not support.
	Providers []string
	// CPUArena is how the CPU allocator keeps memory between runs.
	CPUArena ArenaMode
}

// build turns options into ORT session options; the caller destroys them.
func (o SessionOptions) build() (*ort.SessionOptions, error) {
	if o.IntraOpThreads < 0 || o.InterOpThreads < 0 {
		return nil, fmt.Errorf("thread counts must be 0 (ORT default) or positive, got intra-op %d, inter-op %d",
			o.IntraOpThreads, o.InterOpThreads)
	}
	level, err := o.GraphOptimization.ort()
	if err != nil {
		return nil, err
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("create session options: %w", err)
	}
	fail := func(err error) (*ort.SessionOptions, error) {
		so.Destroy()
		return nil, err
	}
	// ORT logs a failure and also returns it; mlops reports the returned
	// error, so the log copy would only print the message twice.
	if err := so.SetLogSeverityLevel(ort.LoggingLevelFatal); err != nil {
		return fail(fmt.Errorf("set log level: %w", err))
	}
	if o.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(o.IntraOpThreads); err != nil {
			return fail(fmt.Errorf("set intra-op threads: %w", err))
		}
	}
	if o.InterOpThreads > 0 {
		if err := so.SetInterOpNumThreads(o.InterOpThreads); err != nil {
			return fail(fmt.Errorf("set inter-op threads: %w", err))
		}
	}
	switch o.CPUArena {
	case ArenaKeep, ArenaShrink:
	case ArenaOff:
		if err := so.SetCpuMemArena(false); err != nil {
			return fail(fmt.Errorf("disable the CPU memory arena: %w", err))
		}
	default:
		return fail(fmt.Errorf("unknown arena mode %d", int(o.CPUArena)))
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return fail(fmt.Errorf("set graph optimisation level: %w", err))
	}
	for _, p := range o.Providers {
		if err := appendProvider(so, p); err != nil {
			return fail(err)
		}
	}
	return so, nil
}

func appendProvider(so *ort.SessionOptions, name string) error {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "cpu" || n == strings.ToLower(providerCPU):
		return nil // always present
	case n == "cuda" || n == strings.ToLower(providerCUDA) || strings.HasPrefix(n, "cuda:"):
		device := "0"
		if rest, ok := strings.CutPrefix(n, "cuda:"); ok {
			if _, err := strconv.ParseUint(rest, 10, 16); err != nil {
				return fmt.Errorf("execution provider %q: the CUDA device must be a number, as in cuda:0", name)
			}
			device = rest
		}
		co, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return fmt.Errorf("execution provider CUDA is not available in this ONNX Runtime library (%v); "+
				"use a CUDA build of ONNX Runtime or the CPU provider", err)
		}
		defer co.Destroy()
		if err := co.Update(map[string]string{"device_id": device}); err != nil {
			return fmt.Errorf("execution provider CUDA device %s: %w", device, err)
		}
		if err := so.AppendExecutionProviderCUDA(co); err != nil {
			return fmt.Errorf("execution provider CUDA cannot be used (%v); check the CUDA and cuDNN installation "+
				"or use the CPU provider", err)
		}
		return nil
	}
	return fmt.Errorf("unknown execution provider %q: use cpu, cuda or cuda:N", name)
}
