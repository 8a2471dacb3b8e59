package engine

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// Warmup configures the run of zeros each new version gets before it
// serves, so the first client does not pay for ONNX Runtime's lazy
// initialisation and a model that cannot run fails its load, not its first
// request.
type Warmup struct {
	// Disabled skips the warm-up run.
	Disabled bool
	// Shapes are the shapes to warm inputs with, keyed "INPUT" (that input
	// of every model) or "MODEL/INPUT" (which wins). Inputs without one
	// take the model's hint (WarmupHinter) or are searched.
	Shapes map[string][]int64
}

// WarmupHinter is implemented by backends whose model names the shapes it
// should be warmed with, by input name.
type WarmupHinter interface {
	WarmupShapes() (map[string][]int64, error)
}

// The warm-up search: dynamic dimensions are tried at 1, then at powers of
// two up to warmupMaxDim (fewer when --max-dims caps them), skipping shapes
// over warmupMaxElements per input, all within warmupBudget.
const (
	warmupMaxDim      = 4096
	warmupMaxElements = 1 << 22
	warmupBudget      = 2 * time.Minute
)

// warmupShapes lists the shapes (one per input) to try in order: a model
// whose operators need more than one element along a dynamic dimension
// (Silero VAD's reflect padding needs several samples) fails on all-ones
// and runs on a larger shape. Inputs given a shape (by the flag or the
// model's hint) keep it in every try; pinned says whether any was.
func warmupShapes(model string, inputs []TensorMeta, limits []inputLimit, w Warmup, hints map[string][]int64) (tries [][][]int64, pinned bool, err error) {
	fixed := make([][]int64, len(inputs))
	known := map[string]int64{} // symbolic dimension sizes the pinned shapes give
	batchNames := map[string]bool{}
	searched := false
	for i, in := range inputs {
		if len(in.DimNames) > 0 && in.DimNames[0] != "" {
			batchNames[in.DimNames[0]] = true
		}
		shape, source := []int64(nil), ""
		if s, key, ok := lookup(w.Shapes, model, in, shapeFits); ok {
			shape, source = s, "--warmup-shape "+key+"="+FormatShape(s)
		} else if s, ok := hints[in.Name]; ok {
			shape, source = s, "model metadata "+HintKeyPrefix+in.Name+"="+FormatShape(s)
		}
		if shape == nil {
			searched = true
			continue
		}
		pinned = true
		if err := fitsInput(in, limits[i], shape); err != nil {
			return nil, false, fmt.Errorf("%s: %w", source, err)
		}
		fixed[i] = shape
		for d, name := range in.DimNames {
			if name != "" && in.Shape[d] < 0 {
				known[name] = shape[d]
			}
		}
	}
	// shapeAt sets dynamic dimensions to n, the others to 1: with
	// lastOnly the sequence-like ones, with allButBatch all but the batch
	// dimensions, with growAll every one.
	const (
		lastOnly = iota
		allButBatch
		growAll
	)
	dimName := func(in TensorMeta, d int) string {
		if d < len(in.DimNames) {
			return in.DimNames[d]
		}
		return ""
	}
	// grows says whether a dynamic dimension takes n (else 1).
	grows := func(in TensorMeta, d, grow int) bool {
		isBatch := d == 0 || batchNames[dimName(in, d)]
		switch grow {
		case lastOnly:
			// The last of two or more dynamic dimensions: an input with one
			// (Silero's state [2, ?, 128]) is more likely batched than a sequence.
			first, last := -1, -1
			for k, s := range in.Shape {
				if s < 0 {
					if first < 0 {
						first = k
					}
					last = k
				}
			}
			return d == last && d != first && !isBatch
		case allButBatch:
			return !isBatch
		}
		return true
	}
	shapeAt := func(n int64, grow int) [][]int64 {
		// Dimensions of one name take one size: n if any of them grows.
		named := map[string]int64{}
		for i, in := range inputs {
			for d, s := range in.Shape {
				name := dimName(in, d)
				if fixed[i] != nil || s >= 0 || name == "" {
					continue
				}
				if grows(in, d, grow) {
					named[name] = n
				} else if _, set := named[name]; !set {
					named[name] = 1
				}
			}
		}
		for name, v := range known {
			named[name] = v
		}
		out := make([][]int64, len(inputs))
		for i, in := range inputs {
			if fixed[i] != nil {
				out[i] = fixed[i]
				continue
			}
			shape := make([]int64, len(in.Shape))
			for d, s := range in.Shape {
				var v int64
				switch name := dimName(in, d); {
				case s >= 0:
					v = s
				case name != "":
					v = named[name]
				case grows(in, d, grow):
					v = n
				default:
					v = 1
				}
				if c := limits[i].caps[d]; c > 0 && v > c {
					v = c
				}
				shape[d] = v
			}
			out[i] = shape
		}
		return out
	}
	seen := map[string]bool{}
	add := func(shapes [][]int64) {
		key := fmt.Sprint(shapes)
		if seen[key] {
			return
		}
		seen[key] = true
		for _, s := range shapes {
			if n, err := oip.NumElements(s); err != nil || n > warmupMaxElements {
				if len(tries) > 0 {
					return
				}
			}
		}
		tries = append(tries, shapes)
	}
	add(shapeAt(1, growAll))
	if searched {
		// Growing the sequence first keeps the warm-up small, and the
		// batch at 1 where it is not named (Silero VAD v5: input [?, ?],
		// state [2, ?, 128]); growing every dimension covers the rest.
		for n := int64(2); n <= warmupMaxDim; n *= 2 {
			add(shapeAt(n, lastOnly))
			add(shapeAt(n, allButBatch))
			add(shapeAt(n, growAll))
		}
	}
	return tries, pinned, nil
}

// shapeFits checks a warm-up shape against an input's rank and fixed sizes.
func shapeFits(in TensorMeta, shape []int64) error {
	if len(shape) != len(in.Shape) {
		return fmt.Errorf("input %q has shape %v (rank %d), not rank %d", in.Name, in.Shape, len(in.Shape), len(shape))
	}
	for d, s := range in.Shape {
		if s >= 0 && shape[d] != s {
			return fmt.Errorf("input %q has shape %v: dimension %d must be %d", in.Name, in.Shape, d, s)
		}
	}
	return nil
}

// fitsInput checks a given warm-up shape against the input and its limits.
func fitsInput(in TensorMeta, lim inputLimit, shape []int64) error {
	if err := shapeFits(in, shape); err != nil {
		return err
	}
	for d, c := range lim.caps {
		if c > 0 && shape[d] > c {
			return fmt.Errorf("input %q: dimension %d is over the --max-dims limit of %d", in.Name, d, c)
		}
	}
	return nil
}

// HintKeyPrefix is the metadata_props key prefix by which a model names its
// warm-up shapes: "mlops.warmup_shape.INPUT" = "1,512".
const HintKeyPrefix = "mlops.warmup_shape."

// warm runs the warm-up: the first shape that runs wins.
func (v *version) warm(ctx context.Context, w Warmup, logger *slog.Logger) error {
	if w.Disabled {
		return nil
	}
	var hints map[string][]int64
	if h, ok := v.backend.(WarmupHinter); ok {
		var err error
		if hints, err = h.WarmupShapes(); err != nil {
			return err
		}
	}
	tries, pinned, err := warmupShapes(v.meta.Name, v.meta.Inputs, v.limits, w, hints)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, warmupBudget)
	defer cancel()
	var first error
	tried := 0
	for i, shapes := range tries {
		tried++
		_, err := v.backend.Run(ctx, zeros(v.meta.Inputs, shapes), nil)
		if err == nil {
			if i > 0 {
				logger.Info("warm-up ran on a larger shape", "model", v.meta.Name, "version", v.meta.Version,
					"shapes", describeShapes(v.meta.Inputs, shapes), "tries", tried)
			}
			return nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(tries) == 1 {
		if pinned {
			return fmt.Errorf("with %s: %w", describeShapes(v.meta.Inputs, tries[0]), first)
		}
		return first
	}
	return fmt.Errorf("%w (also with %d larger shapes, up to %s); give shapes that run with --warmup-shape INPUT=DIMS "+
		"(e.g. --warmup-shape %s=%s) or skip warm-up with --no-warmup",
		first, tried-1, describeShapes(v.meta.Inputs, tries[tried-1]), v.meta.Inputs[0].Name, FormatShape(tries[tried-1][0]))
}

func zeros(metas []TensorMeta, shapes [][]int64) []*oip.Tensor {
	inputs := make([]*oip.Tensor, len(metas))
	for i, m := range metas {
		n, _ := oip.NumElements(shapes[i])
		t := &oip.Tensor{Name: m.Name, Datatype: m.Datatype, Shape: shapes[i]}
		if m.Datatype == oip.BYTES {
			t.Strings = make([][]byte, n)
		} else {
			t.Data = make([]byte, n*int64(m.Datatype.Size()))
		}
		inputs[i] = t
	}
	return inputs
}

// describeShapes is "input [1,512], state [2,1,128]".
func describeShapes(metas []TensorMeta, shapes [][]int64) string {
	parts := make([]string, len(metas))
	for i, m := range metas {
		parts[i] = m.Name + " [" + FormatShape(shapes[i]) + "]"
	}
	return strings.Join(parts, ", ")
}
