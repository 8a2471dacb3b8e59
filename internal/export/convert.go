package export

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Request describes one ONNX→ONNX conversion.
type Request struct {
	Input, Output string
	// Framework, when set, exports Input from PyTorch/TensorFlow first and
	// checks parity; the ONNX steps then apply to the exported model.
	Framework *FrameworkRequest

	ImportWeights string            // safetensors file whose tensors replace initializers
	FixDims       map[string]string // symbolic dim name -> value
	Opset         int64             // upgrade the default-domain opset to this (0: keep)
	Optimize      bool
	FP16          bool
	FP16Options   FP16Options
	Meta          map[string]string
	ExportWeights string // safetensors file to write initializers to

	Save onnx.SaveOptions
	// Verify runs input and output models on seeded random inputs and
	// reports the largest output deviation (needs a runtime).
	Verify bool
	Seed   uint64
	// Tolerance, when positive, fails the conversion (ErrParity, nothing
	// written) if verification measures a larger absolute deviation.
	Tolerance float64
}

// Report says what a conversion changed. Field names are a JSON contract.
type Report struct {
	Input           string          `json:"input"`
	Output          string          `json:"output,omitempty"`
	Steps           []string        `json:"steps"`
	NodesBefore     int             `json:"nodes_before"`
	NodesAfter      int             `json:"nodes_after"`
	BytesBefore     int64           `json:"bytes_before"`
	BytesAfter      int64           `json:"bytes_after"`
	DimsFixed       int             `json:"dims_fixed,omitempty"`
	Opset           *OpsetReport    `json:"opset,omitempty"`
	MetaSet         int             `json:"meta_set,omitempty"`
	Optimize        *OptimizeReport `json:"optimize,omitempty"`
	FP16            *FP16Report     `json:"fp16,omitempty"`
	WeightsImported int             `json:"weights_imported,omitempty"`
	WeightsExported int             `json:"weights_exported,omitempty"`
	Deviation       []Deviation     `json:"deviation,omitempty"`
	VerifySkipped   string          `json:"verify_skipped,omitempty"`
	MaxAbsError     *float64        `json:"max_abs_error,omitempty"`
	Parity          *ParityReport   `json:"parity,omitempty"`
}

// Run converts req.Input into req.Output. rt may be nil only when neither
// Optimize (constant folding), FP16 nor Verify is asked for. Nothing is
// written at req.Output unless every step succeeds.
func Run(ctx context.Context, rt *runtime.Runtime, req Request) (*Report, error) {
	if req.Opset != 0 && req.Framework != nil {
		return nil, errors.New("export: Request.Opset upgrades ONNX input; set FrameworkRequest.Opset for exports")
	}
	if rt == nil && (req.FP16 || req.Verify || req.Optimize) {
		return nil, errors.New("export: --fp16, --optimize and verification need ONNX Runtime")
	}
	source := req.Input
	var parityRep *ParityReport
	if req.Framework != nil {
		if rt == nil {
			return nil, errors.New("export: the parity check needs ONNX Runtime")
		}
		dir, err := os.MkdirTemp("", "mlops-convert-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		source = filepath.Join(dir, "exported.onnx")
		fr := *req.Framework
		fr.Model = req.Input
		parityRep, err = ExportFramework(ctx, rt, fr, source)
		if err != nil {
			if parityRep != nil {
				return &Report{Input: req.Input, Parity: parityRep}, err
			}
			return nil, err
		}
	}
	m, err := onnx.LoadForRewrite(source) // sorted and checked; its errors name the file
	if err != nil {
		return nil, err
	}
	defer m.Close()
	rep := &Report{Input: req.Input, Output: req.Output, NodesBefore: len(m.Proto.GetGraph().GetNode()), BytesBefore: modelBytes(source, m), Parity: parityRep}
	if parityRep != nil {
		rep.Steps = append(rep.Steps, "export-"+req.Framework.Framework)
	}
	sourceModelExternal := externalCount(m)
	// Rewritten tensors of a model with external data go to a spill file
	// that the save below copies; closing the stream removes it.
	st := onnx.NewTensorStream(m, true)
	defer st.Close()
	if err := prepare(m, req, rep); err != nil {
		return nil, err
	}
	// Verification measures what the numeric steps (optimize, fp16) did to
	// the model the user asked for: after weight import and fixed dims.
	var reference *onnx.Model
	large := tooLargeToRun(m)
	if req.Verify && large == "" {
		reference = m.Clone()
		defer reference.Close()
	}
	if err := transform(ctx, rt, m, st, req, rep); err != nil {
		return nil, err
	}
	if err := onnx.Check(m); err != nil {
		return nil, fmt.Errorf("the converted model does not pass the ONNX checker although %s does: a bug in mlops convert (please report this): %w", req.Input, err)
	}
	var devs []Deviation
	if req.Verify && large != "" {
		rep.VerifySkipped = large
	}
	if req.Verify && large == "" {
		var err error
		devs, err = verify(ctx, rt, reference, m, req.Seed)
		var refErr *referenceError
		switch {
		case errors.As(err, &refErr) && req.Tolerance == 0 && ctx.Err() == nil:
			// Synthetic inputs do not suit every model (a scales input, a
			// shape input); the conversion itself is still sound.
			rep.VerifySkipped = refErr.Error()
		case err != nil:
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	if req.Verify && rep.VerifySkipped == "" {
		rep.Deviation = devs
		rep.MaxAbsError = maxAbs(devs)
		rep.Steps = append(rep.Steps, "verify")
		if req.Tolerance > 0 && *rep.MaxAbsError > req.Tolerance {
			return rep, fmt.Errorf("%w: the converted model's outputs differ by %g, more than --tolerance %g", ErrParity, *rep.MaxAbsError, req.Tolerance)
		}
	}
	if req.Output != "" {
		save := req.Save
		if save.External == onnx.ExternalAuto && sourceModelExternal > 0 {
			// Steps rewrite tensors in memory; a model that came with
			// external data keeps it.
			save.External = onnx.ExternalAlways
		}
		if err := m.SaveContext(ctx, req.Output, save); err != nil {
			return nil, err // Save's errors name the file
		}
		if saved, err := onnx.Load(req.Output); err == nil {
			rep.BytesAfter = modelBytes(req.Output, saved)
			saved.Close()
		}
		rep.Steps = append(rep.Steps, "save")
	}
	rep.NodesAfter = len(m.Proto.GetGraph().GetNode())
	return rep, nil
}

func prepare(m *onnx.Model, req Request, rep *Report) error {
	var err error
	if req.ImportWeights != "" {
		if rep.WeightsImported, err = importWeights(m, req.ImportWeights); err != nil {
			return err
		}
		rep.Steps = append(rep.Steps, "import-weights")
	}
	if len(req.FixDims) > 0 {
		if rep.DimsFixed, err = fixDims(m.Proto.GetGraph(), req.FixDims); err != nil {
			return err
		}
		rep.Steps = append(rep.Steps, "fix-dim")
	}
	return nil
}

// upgrade is the opset step; it runs on the model verification starts from
// only when the opset changes nothing numerically, so it comes after the
// reference copy: the deviation then covers it too.
func upgrade(m *onnx.Model, req Request, rep *Report) error {
	if req.Opset == 0 {
		return nil
	}
	o, err := upgradeOpset(m, req.Opset)
	if err != nil {
		return err
	}
	rep.Opset = o
	rep.Steps = append(rep.Steps, "opset")
	return nil
}

func transform(ctx context.Context, rt *runtime.Runtime, m *onnx.Model, st *onnx.TensorStream, req Request, rep *Report) error {
	var err error
	if err := upgrade(m, req, rep); err != nil {
		return err
	}
	if req.Optimize {
		o, err := optimize(ctx, rt, m, st)
		if err != nil {
			return fmt.Errorf("optimize: %w", err)
		}
		rep.Optimize = &o
		rep.Steps = append(rep.Steps, "optimize")
	}
	if req.FP16 {
		f, err := toFloat16(ctx, rt, m, st, req.FP16Options)
		if err != nil {
			return fmt.Errorf("fp16: %w", err)
		}
		rep.FP16 = &f
		rep.Steps = append(rep.Steps, "fp16")
	}
	if len(req.Meta) > 0 {
		rep.MetaSet = setMetadata(m.Proto, req.Meta)
		rep.Steps = append(rep.Steps, "meta")
	}
	if req.ExportWeights != "" {
		if rep.WeightsExported, err = exportWeights(ctx, m, req.ExportWeights); err != nil {
			return err
		}
		rep.Steps = append(rep.Steps, "export-weights")
	}
	return ctx.Err()
}

// verify runs both models on the same seeded inputs.
func verify(ctx context.Context, rt *runtime.Runtime, before, after *onnx.Model, seed uint64) ([]Deviation, error) {
	feeds, err := randomFeeds(before.Proto.GetGraph(), seed, 0)
	if err != nil {
		return nil, err
	}
	// Inputs the conversion turned into float16 get float16 feeds.
	afterFeeds, err := randomFeeds(after.Proto.GetGraph(), seed, 0)
	if err != nil {
		return nil, err
	}
	run := func(m *onnx.Model, f map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
		c := m.Clone()
		defer c.Close()
		if err := c.InlineExternalData(); err != nil {
			return nil, err
		}
		b, err := c.Encode()
		if err != nil {
			return nil, err
		}
		return runModel(ctx, rt, b, f)
	}
	ref, err := run(before, feeds)
	if err != nil {
		return nil, &referenceError{err}
	}
	got, err := run(after, afterFeeds)
	if err != nil {
		return nil, fmt.Errorf("run the converted model: %w", err)
	}
	var order []string
	for _, o := range before.Proto.GetGraph().GetOutput() {
		order = append(order, o.GetName())
	}
	return compareOutputs(ref, got, order)
}

func maxAbs(devs []Deviation) *float64 {
	m := 0.0
	for _, d := range devs {
		m = max(m, d.MaxAbs)
	}
	return &m
}

// modelBytes is the size of the model file plus its external data files.
func modelBytes(path string, m *onnx.Model) int64 {
	n := fileBytes(path)
	seen := map[string]bool{}
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if !onnx.IsExternal(t) {
			continue
		}
		ed, err := onnx.ExternalDataOf(t)
		if err != nil || seen[ed.Location] {
			continue
		}
		seen[ed.Location] = true
		n += fileBytes(filepath.Join(m.Dir, ed.Location))
	}
	return n
}

func fileBytes(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// referenceError: the input model itself does not run on the seeded
// inputs, so no deviation can be measured.
type referenceError struct{ err error }

func (e *referenceError) Error() string {
	return "the input model does not run on seeded random inputs, deviation not measured: " + e.err.Error()
}

func (e *referenceError) Unwrap() error { return e.err }

func externalCount(m *onnx.Model) int {
	n := 0
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		if onnx.IsExternal(t) {
			n++
		}
	}
	return n
}
