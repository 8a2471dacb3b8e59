package retrain

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/spf13/cast"
)

// Optimizers, learning-rate schedules and losses accepted by Hyperparameters.
const (
	OptSGD      = "sgd"
	OptMomentum = "momentum"
	OptAdam     = "adam"
	OptAdamW    = "adamw"

	ScheduleConstant = "constant"
	ScheduleCosine   = "cosine"
	ScheduleStep     = "step"

	LossCrossEntropy = "cross_entropy"
	LossBCE          = "bce"
	LossMSE          = "mse"
)

// Hyperparameters are the knobs of one training run. Every field is also
// reachable by its name (snake_case, e.g. batch_size; the CLI flag spelling
// batch-size works too) through Set and Get, so a search such as `mlops tune` can drive retrain in-process without
// knowing the struct.
type Hyperparameters struct {
	Epochs         int     // passes over the training data
	BatchSize      int     // rows per optimizer step
	LR             float64 // peak learning rate
	Optimizer      string  // sgd, momentum, adam, adamw
	Momentum       float64 // momentum of "momentum" (0.9); Adam's beta1 is fixed at 0.9
	WeightDecay    float64 // L2 added to the gradient (sgd, momentum, adam) or decoupled (adamw)
	LRSchedule     string  // constant, cosine, step
	Warmup         int     // optimizer steps of linear warm-up before the schedule
	Loss           string  // cross_entropy, bce, mse
	LabelSmoothing float64 // cross_entropy only
	EarlyStopping  int     // patience in epochs on val_loss; 0 disables
	Seed           uint64  // shuffling, validation split and --reinit
	Temperature    float64 // distillation temperature T
	Alpha          float64 // weight of the distillation term; 1 - Alpha weighs the label loss
}

// DefaultHyperparameters are the values the CLI shows as flag defaults.
func DefaultHyperparameters() Hyperparameters {
	return Hyperparameters{
		Epochs: 1, BatchSize: 64, LR: 1e-3, Optimizer: OptAdam, Momentum: 0.9,
		LRSchedule: ScheduleConstant, Loss: LossCrossEntropy, Seed: 1, Temperature: 4, Alpha: 0.5,
	}
}

// Param describes one named hyperparameter.
type Param struct {
	Name    string   `json:"name"`
	Kind    string   `json:"kind"` // int, float or choice
	Choices []string `json:"choices,omitempty"`
	Help    string   `json:"help"`
}

type paramDef struct {
	Param
	get func(*Hyperparameters) any
	set func(*Hyperparameters, any) error
}

func intParam(name, help string, f func(*Hyperparameters) *int) paramDef {
	return paramDef{Param{Name: name, Kind: "int", Help: help},
		func(h *Hyperparameters) any { return *f(h) },
		func(h *Hyperparameters, v any) error {
			n, err := toInt(v)
			if err != nil {
				return err
			}
			*f(h) = n
			return nil
		}}
}

func floatParam(name, help string, f func(*Hyperparameters) *float64) paramDef {
	return paramDef{Param{Name: name, Kind: "float", Help: help},
		func(h *Hyperparameters) any { return *f(h) },
		func(h *Hyperparameters, v any) error {
			x, err := cast.ToFloat64E(v)
			if err != nil {
				return fmt.Errorf("want a number, got %v", v)
			}
			*f(h) = x
			return nil
		}}
}

func choiceParam(name, help string, choices []string, f func(*Hyperparameters) *string) paramDef {
	return paramDef{Param{Name: name, Kind: "choice", Choices: choices, Help: help},
		func(h *Hyperparameters) any { return *f(h) },
		func(h *Hyperparameters, v any) error {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("want one of %s, got %v", strings.Join(choices, ", "), v)
			}
			*f(h) = s
			return nil
		}}
}

func toInt(v any) (int, error) {
	if f, ok := v.(float64); ok {
		if f != math.Trunc(f) {
			return 0, fmt.Errorf("want an integer, got %v", v)
		}
	}
	n, err := cast.ToIntE(v)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %v", v)
	}
	return n, nil
}

// params is built per call: the package keeps no mutable state.
func params() []paramDef {
	return []paramDef{
		intParam("epochs", "passes over the training data", func(h *Hyperparameters) *int { return &h.Epochs }),
		intParam("batch_size", "rows per optimizer step", func(h *Hyperparameters) *int { return &h.BatchSize }),
		floatParam("lr", "peak learning rate", func(h *Hyperparameters) *float64 { return &h.LR }),
		choiceParam("optimizer", "optimizer", []string{OptSGD, OptMomentum, OptAdam, OptAdamW}, func(h *Hyperparameters) *string { return &h.Optimizer }),
		floatParam("momentum", "momentum of the momentum optimizer", func(h *Hyperparameters) *float64 { return &h.Momentum }),
		floatParam("weight_decay", "L2 penalty (decoupled for adamw)", func(h *Hyperparameters) *float64 { return &h.WeightDecay }),
		choiceParam("lr_schedule", "learning-rate schedule after warm-up", []string{ScheduleConstant, ScheduleCosine, ScheduleStep}, func(h *Hyperparameters) *string { return &h.LRSchedule }),
		intParam("warmup", "optimizer steps of linear warm-up", func(h *Hyperparameters) *int { return &h.Warmup }),
		choiceParam("loss", "training loss", []string{LossCrossEntropy, LossBCE, LossMSE}, func(h *Hyperparameters) *string { return &h.Loss }),
		floatParam("label_smoothing", "cross-entropy label smoothing", func(h *Hyperparameters) *float64 { return &h.LabelSmoothing }),
		intParam("early_stopping", "patience in epochs on val_loss (0: off)", func(h *Hyperparameters) *int { return &h.EarlyStopping }),
		{Param{Name: "seed", Kind: "int", Help: "seed of shuffling, split and --reinit"},
			func(h *Hyperparameters) any { return h.Seed },
			func(h *Hyperparameters, v any) error {
				n, err := cast.ToUint64E(v)
				if err != nil {
					return fmt.Errorf("want a non-negative integer, got %v", v)
				}
				h.Seed = n
				return nil
			}},
		floatParam("temperature", "distillation temperature", func(h *Hyperparameters) *float64 { return &h.Temperature }),
		floatParam("alpha", "weight of the distillation term", func(h *Hyperparameters) *float64 { return &h.Alpha }),
	}
}

// Params lists the named hyperparameters in a stable order.
func Params() []Param {
	defs := params()
	out := make([]Param, len(defs))
	for i, d := range defs {
		out[i] = d.Param
	}
	return out
}

func findParam(name string) (paramDef, error) {
	norm := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), "-", "_")
	for _, d := range params() {
		if d.Name == norm {
			return d, nil
		}
	}
	names := make([]string, 0)
	for _, d := range params() {
		names = append(names, d.Name)
	}
	sort.Strings(names)
	return paramDef{}, fmt.Errorf("unknown hyperparameter %q; known: %s", name, strings.Join(names, ", "))
}

// Set assigns the named hyperparameter ("lr", "batch_size" or the flag
// spelling "batch-size", ...). Numbers may be given as Go numbers or strings; choices as strings.
// The value is range-checked by Validate, not here.
func (h *Hyperparameters) Set(name string, value any) error {
	d, err := findParam(name)
	if err != nil {
		return err
	}
	if err := d.set(h, value); err != nil {
		return fmt.Errorf("hyperparameter %s: %w", d.Name, err)
	}
	return nil
}

// Get returns the named hyperparameter's value (int, uint64, float64 or string).
func (h *Hyperparameters) Get(name string) (any, error) {
	d, err := findParam(name)
	if err != nil {
		return nil, err
	}
	return d.get(h), nil
}

// Map returns every hyperparameter by name, as recorded in checkpoints and
// registry lineage.
func (h *Hyperparameters) Map() map[string]string {
	out := map[string]string{}
	for _, d := range params() {
		out[d.Name] = fmt.Sprint(d.get(h))
	}
	return out
}

// Validate checks ranges and choices; messages name the flag.
func (h *Hyperparameters) Validate() error {
	switch {
	case h.Epochs < 1:
		return fmt.Errorf("--epochs must be at least 1, got %d", h.Epochs)
	case h.BatchSize < 1:
		return fmt.Errorf("--batch-size must be at least 1, got %d", h.BatchSize)
	case !(h.LR > 0) || math.IsInf(h.LR, 0):
		return fmt.Errorf("--lr must be a positive number, got %v", h.LR)
	case h.WeightDecay < 0 || math.IsNaN(h.WeightDecay):
		return fmt.Errorf("--weight-decay must not be negative, got %v", h.WeightDecay)
	case h.Momentum < 0 || h.Momentum >= 1 || math.IsNaN(h.Momentum):
		return fmt.Errorf("momentum must lie in [0, 1), got %v", h.Momentum)
	case h.Warmup < 0:
		return fmt.Errorf("--warmup must not be negative, got %d", h.Warmup)
	case h.LabelSmoothing < 0 || h.LabelSmoothing >= 1 || math.IsNaN(h.LabelSmoothing):
		return fmt.Errorf("--label-smoothing must lie in [0, 1), got %v", h.LabelSmoothing)
	case h.EarlyStopping < 0:
		return fmt.Errorf("--early-stopping must not be negative, got %d", h.EarlyStopping)
	case !(h.Temperature > 0) || math.IsInf(h.Temperature, 0):
		return fmt.Errorf("--temperature must be positive, got %v", h.Temperature)
	case h.Alpha < 0 || h.Alpha > 1 || math.IsNaN(h.Alpha):
		return fmt.Errorf("--alpha must lie in [0, 1], got %v", h.Alpha)
	}
	if err := oneOf("--optimizer", h.Optimizer, OptSGD, OptMomentum, OptAdam, OptAdamW); err != nil {
		return err
	}
	if err := oneOf("--lr-schedule", h.LRSchedule, ScheduleConstant, ScheduleCosine, ScheduleStep); err != nil {
		return err
	}
	return oneOf("--loss", h.Loss, LossCrossEntropy, LossBCE, LossMSE)
}

func oneOf(flag, v string, choices ...string) error {
	for _, c := range choices {
		if v == c {
			return nil
		}
	}
	return fmt.Errorf("%s %q is not one of %s", flag, v, strings.Join(choices, ", "))
}
