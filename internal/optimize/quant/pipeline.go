package quant

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// Request is one `mlops quantize` run.
type Request struct {
	Input, Output string
	Options       Options

	// Calibration (static mode): a data file matched to the model's inputs.
	Calibration     data.Spec
	CalibrationOpts CalibrationOptions

	// Eval, when Eval.Path is set, compares the float and quantized models
	// on this data (labels optional).
	Eval data.Spec

	// Session configures every ORT session the run opens.
	Session runtime.SessionOptions

	// Progress, when set, is told about every batch of calibration and
	// comparison data.
	Progress infer.Progress
}

// Report is what a run prints; JSON field names are a contract.
type Report struct {
	Input            string            `json:"input"`
	Output           string            `json:"output"`
	Mode             Mode              `json:"mode"`
	Format           Format            `json:"format,omitempty"`
	WeightType       string            `json:"weight_type"`
	ActivationType   string            `json:"activation_type"`
	NodesQuantized   map[string]int    `json:"nodes_quantized"`
	NodesSkipped     []Skipped         `json:"nodes_skipped"`
	WeightsQuantized int               `json:"weights_quantized"`
	BytesBefore      int64             `json:"bytes_before"`
	BytesAfter       int64             `json:"bytes_after"`
	SizeRatio        float64           `json:"size_ratio"`
	DurationSeconds  float64           `json:"duration_seconds"`
	Calibration      *CalibrationStats `json:"calibration,omitempty"`
	Eval             *EvalReport       `json:"eval,omitempty"`

	// 4-bit weight-only runs (--bits 4).
	Bits          int                   `json:"bits"`
	BlockSize     int                   `json:"block_size,omitempty"`
	Algorithm     Algorithm             `json:"algorithm,omitempty"`
	Symmetric     bool                  `json:"symmetric,omitempty"`
	AccuracyLevel int                   `json:"accuracy_level,omitempty"`
	FloatType     string                `json:"float_type"`
	Layers        []LayerReconstruction `json:"layers,omitempty"`
	CastsInserted []CastNote            `json:"casts_inserted"`
	Notes         []string              `json:"notes,omitempty"`
}

// WeightOnly is the mode 4-bit runs report: activations stay float.
const WeightOnly Mode = "weight_only"

// Run quantizes req.Input into req.Output. rt may be nil in dynamic mode
// without evaluation. The output appears only when everything succeeded.
func Run(ctx context.Context, rt *runtime.Runtime, req Request) (*Report, error) {
	start := time.Now()
	o := req.Options
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.fourBit() && o.algorithm() == GPTQ && req.Calibration.Path == "" {
		return nil, fmt.Errorf("%w: --algorithm gptq minimises each layer's output error on data: pass --calibration-data FILE (rows of the model's inputs), or use --algorithm hqq or rtn, which need none", ErrNeedsCalibration)
	}
	if o.Mode == Static && req.Calibration.Path == "" {
		return nil, errors.New("static mode needs calibration data: pass --calibration-data FILE (.npy, .npz, .csv, .jsonl, .parquet)")
	}
	if (o.Mode == Static || req.Eval.Path != "" || (o.fourBit() && req.Calibration.Path != "")) && rt == nil {
		return nil, errors.New("calibration and evaluation need ONNX Runtime: install it (make setup) or pass --ort-lib")
	}
	if abs(req.Input) == abs(req.Output) {
		return nil, fmt.Errorf("output %s is the input model: choose another output path", req.Output)
	}
	m, err := onnx.LoadForRewrite(req.Input) // sorted and checked
	if err != nil {
		return nil, err
	}
	defer m.Close()
	if err := CheckQuantizable(m); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Input, err)
	}
	if err := checkOpset(m, o); err != nil {
		return nil, fmt.Errorf("%s: %w", req.Input, err)
	}
	if o.fourBit() {
		ver := ""
		if rt != nil {
			ver = rt.Version()
		}
		if err := checkNBits(m, ver); err != nil {
			return nil, fmt.Errorf("%s: %w", req.Input, err)
		}
	}
	if req.Eval.Path != "" {
		if err := CheckEvalData(ctx, rt, req.Input, req.Eval, req.Session); err != nil {
			return nil, err
		}
	}
	rep := &Report{Input: req.Input, Output: req.Output, Mode: o.Mode, WeightType: o.WeightType.String(),
		ActivationType: Uint8.String(), BytesBefore: modelBytes(req.Input, m)}
	rep.FloatType = modelFloatType(m)
	rep.Bits = 8
	switch {
	case o.fourBit():
		rep.Mode, rep.Bits, rep.WeightType, rep.ActivationType = WeightOnly, 4, "uint4", rep.FloatType
		rep.BlockSize, rep.Algorithm, rep.Symmetric, rep.AccuracyLevel = o.blockSize(), o.algorithm(), o.Symmetric4, o.AccuracyLevel
	case o.Mode == Static:
		rep.Format = o.Format
		rep.ActivationType = o.ActivationType.String()
	}
	var hess HessianFunc
	if o.fourBit() && req.Calibration.Path != "" {
		spec := req.Calibration
		if spec.Inputs, err = modelInputs(rt, req.Input, req.Session); err != nil {
			return nil, err
		}
		co := req.CalibrationOpts
		co.Session, co.Progress = req.Session, req.Progress
		hess = NewHessianFunc(rt, m, func(ctx context.Context) (data.Source, error) { return data.Open(ctx, spec) }, co)
	}
	var ranges map[string]Range
	if o.Mode == Static {
		spec := req.Calibration
		if spec.Inputs, err = modelInputs(rt, req.Input, req.Session); err != nil {
			return nil, err
		}
		src, err := data.Open(ctx, spec)
		if err != nil {
			return nil, fmt.Errorf("calibration data: %w", err)
		}
		co := req.CalibrationOpts
		co.Session, co.Progress = req.Session, req.Progress
		ranges, rep.Calibration, err = Calibrate(ctx, rt, m, CalibrationTensors(m, o), src, co)
		src.Close()
		if err != nil {
			return nil, err
		}
	}
	var spill *spillFile
	if hasExternal(m.Proto) {
		// A read-only model folder only costs memory: quantized tensors
		// then stay in memory until Save.
		if spill, err = newSpill(m.Dir); err == nil {
			defer spill.remove()
		} else {
			spill = nil
		}
	}
	res, err := quantize(ctx, m, o, ranges, spill, hess)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Input, err)
	}
	rep.NodesQuantized, rep.NodesSkipped, rep.WeightsQuantized = res.NodesQuantized, res.NodesSkipped, res.WeightsQuantized
	rep.Layers, rep.CastsInserted, rep.Notes = res.Reconstruction, res.Casts, res.Notes
	if rep.CastsInserted == nil {
		rep.CastsInserted = []CastNote{}
	}
	if err := onnx.Check(m); err != nil {
		return nil, fmt.Errorf("the quantized model does not pass the ONNX checker although %s does: a bug in mlops quantize (please report this): %w", req.Input, err)
	}
	if err := m.SaveContext(ctx, req.Output, onnx.SaveOptions{External: onnx.ExternalAuto}); err != nil {
		return nil, err
	}
	rep.BytesAfter = savedBytes(req.Output)
	if rep.BytesBefore > 0 {
		rep.SizeRatio = float64(rep.BytesAfter) / float64(rep.BytesBefore)
	}
	if req.Eval.Path != "" {
		if rep.Eval, err = Evaluate(ctx, rt, req.Input, req.Output, res.Layers, req.Eval, req.Session, req.Progress); err != nil {
			return rep, fmt.Errorf("evaluate (the quantized model was written to %s): %w", req.Output, err)
		}
	}
	rep.DurationSeconds = time.Since(start).Seconds()
	return rep, nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

// modelInputs reads a model's inputs through ORT (which resolves shapes the
// way the session will see them) in the data layer's terms.
func modelInputs(rt *runtime.Runtime, path string, so runtime.SessionOptions) ([]data.InputInfo, error) {
	s, err := rt.NewSession(path, so)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return infer.Inputs(s.Inputs())
}

// modelBytes is the model file plus its external data files.
func modelBytes(path string, m *onnx.Model) int64 {
	n := fileSize(path)
	seen := map[string]bool{}
	for _, loc := range externalFiles(m) {
		if !seen[loc] {
			seen[loc] = true
			n += fileSize(filepath.Join(m.Dir, loc))
		}
	}
	return n
}

// savedBytes is the saved model plus the data file Save writes next to it.
func savedBytes(path string) int64 {
	return fileSize(path) + fileSize(path+".data")
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// modelFloatType is the float type most of the model's float weights have
// (by bytes): "float32", "float16" or "bfloat16"; float32 when it has none.
func modelFloatType(m *onnx.Model) string {
	bytes := map[onnx.DataType]int64{}
	walkInits(m.Proto.GetGraph(), func(t *onnxpb.TensorProto) {
		if dt := onnx.TypeOf(t); isFloatType(dt) {
			bytes[dt] += onnx.DataBytes(t)
		}
	})
	best := onnx.Float
	for _, dt := range []onnx.DataType{onnx.Float16, onnx.BFloat16} {
		if bytes[dt] > bytes[best] {
			best = dt
		}
	}
	return floatName(best)
}

// floatName is the report's spelling of a float type.
func floatName(dt onnx.DataType) string {
	if dt == onnx.Float {
		return "float32"
	}
	return strings.ToLower(dt.String())
}

func walkInits(g *onnxpb.GraphProto, fn func(*onnxpb.TensorProto)) {
	for _, t := range g.GetInitializer() {
		fn(t)
	}
	for _, n := range g.GetNode() {
		for _, a := range n.GetAttribute() {
			if a.GetG() != nil {
				walkInits(a.GetG(), fn)
			}
			for _, sg := range a.GetGraphs() {
				walkInits(sg, fn)
			}
		}
	}
}
