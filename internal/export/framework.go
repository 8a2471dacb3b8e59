package export

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

//go:embed python/export_model.py
var exportScript []byte

// InputSpec is one model input for a framework export: --input
// NAME:1x3x224x224[:float32].
type InputSpec struct {
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
	DType string  `json:"dtype"`
}

// ParseInputSpec parses NAME:DIMxDIM...[:dtype].
func ParseInputSpec(s string) (InputSpec, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return InputSpec{}, fmt.Errorf("--input %q: write NAME:1x3x224x224 or NAME:1x3x224x224:float32", s)
	}
	spec := InputSpec{Name: parts[0], DType: "float32"}
	for _, d := range strings.Split(parts[1], "x") {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n <= 0 {
			return InputSpec{}, fmt.Errorf("--input %q: dimension %q must be a positive integer", s, d)
		}
		spec.Shape = append(spec.Shape, n)
	}
	if len(parts) == 3 {
		switch parts[2] {
		case "float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool":
			spec.DType = parts[2]
		default:
			return InputSpec{}, fmt.Errorf("--input %q: dtype must be one of float32, float64, float16, int64, int32, int8, uint8, bool", s)
		}
	}
	return spec, nil
}

// ParseDynamicAxis parses NAME:AXIS.
func ParseDynamicAxis(s string) (string, int, error) {
	name, ax, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(ax)
	if !ok || name == "" || err != nil || n < 0 {
		return "", 0, fmt.Errorf("--dynamic-axis %q: write NAME:AXIS, for example input:0", s)
	}
	return name, n, nil
}

// FrameworkRequest describes an export from PyTorch or TensorFlow.
type FrameworkRequest struct {
	Framework   string // "pytorch" or "tensorflow"
	Python      string // interpreter to run the helper with
	Model       string
	ModelClass  string
	Inputs      []InputSpec
	DynamicAxes map[string][]int
	Opset       int
	Seed        uint64
	Tolerance   float64
}

// ErrParity is wrapped by ExportFramework when the exported model's outputs
// differ from the framework's beyond the tolerance.
var ErrParity = errors.New("parity check failed")

type helperTensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	Data  string  `json:"data"`
}

type helperResult struct {
	Error     string `json:"error"`
	Kind      string `json:"kind"`
	Framework string `json:"framework"`
	Version   string `json:"version"`
	Sets      []struct {
		Inputs  []helperTensor `json:"inputs"`
		Outputs []helperTensor `json:"outputs"`
	} `json:"sets"`
}

// ExportFramework runs the embedded helper with req.Python to write an ONNX
// model at onnxPath, then runs that model through ONNX Runtime on the
// helper's seeded inputs and compares with the framework's outputs.
func ExportFramework(ctx context.Context, rt *runtime.Runtime, req FrameworkRequest, onnxPath string) (*ParityReport, error) {
	if len(req.Inputs) == 0 {
		return nil, errors.New("--from " + req.Framework + " needs at least one --input NAME:SHAPE[:dtype] to trace the model with")
	}
	for name := range req.DynamicAxes {
		if !inputNamed(req.Inputs, name) {
			return nil, fmt.Errorf("--dynamic-axis %s: no --input of that name", name)
		}
	}
	dir, err := os.MkdirTemp("", "mlops-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "export_model.py")
	if err := os.WriteFile(script, exportScript, 0o600); err != nil {
		return nil, err
	}
	resultPath := filepath.Join(dir, "result.json")
	reqJSON, err := json.Marshal(map[string]any{
		"framework": req.Framework, "model": req.Model, "model_class": req.ModelClass, "inputs": req.Inputs,
		"dynamic_axes": req.DynamicAxes, "opset": req.Opset, "seed": req.Seed, "output": onnxPath, "result": resultPath,
	})
	if err != nil {
		return nil, err
	}
	reqPath := filepath.Join(dir, "request.json")
	if err := os.WriteFile(reqPath, reqJSON, 0o600); err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, req.Python, script, reqPath)
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // bound the wait for pipes after a cancel kills Python
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var res helperResult
	b, readErr := os.ReadFile(resultPath)
	if readErr != nil || json.Unmarshal(b, &res) != nil {
		return nil, fmt.Errorf("the export helper failed under %s: %v\n%s", req.Python, runErr, tail(stderr.String(), 2000))
	}
	if res.Error != "" {
		msg := fmt.Sprintf("export with %s: %s", req.Python, res.Error)
		if res.Kind == "missing_module" {
			need := "torch"
			if req.Framework == "tensorflow" {
				need = "tensorflow and tf2onnx"
			}
			msg += fmt.Sprintf("\n%s must be importable in that Python: install it there, or pass --python PATH of an environment that has it", need)
		}
		return nil, errors.New(msg)
	}
	return parity(ctx, rt, req, onnxPath, res)
}

func inputNamed(in []InputSpec, name string) bool {
	for _, s := range in {
		if s.Name == name {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// parity runs the exported model on each input set of the helper and
// compares outputs by position.
func parity(ctx context.Context, rt *runtime.Runtime, req FrameworkRequest, onnxPath string, res helperResult) (*ParityReport, error) {
	m, err := onnx.Load(onnxPath)
	if err != nil {
		return nil, fmt.Errorf("the exporter wrote an unreadable model: %w", err)
	}
	var outNames []string
	for _, o := range m.Proto.GetGraph().GetOutput() {
		outNames = append(outNames, o.GetName())
	}
	m.Close()
	s, err := rt.NewSessionContext(ctx, onnxPath, runtime.SessionOptions{})
	if err != nil {
		return nil, fmt.Errorf("ONNX Runtime cannot load the exported model: %w", err)
	}
	defer s.Close()
	rep := &ParityReport{Framework: res.Framework + " " + res.Version, Tolerance: req.Tolerance, Passed: true}
	worst := map[string]*Deviation{}
	for si, set := range res.Sets {
		feeds := map[string]*runtime.Tensor{}
		for _, t := range set.Inputs {
			rt, err := helperToTensor(t)
			if err != nil {
				return nil, err
			}
			feeds[t.Name] = rt
		}
		got, err := s.Run(ctx, feeds, nil)
		if err != nil {
			return nil, fmt.Errorf("run the exported model on parity inputs %d: %w", si, err)
		}
		if len(set.Outputs) != len(outNames) {
			return nil, fmt.Errorf("the framework returned %d outputs, the ONNX model has %d", len(set.Outputs), len(outNames))
		}
		for i, want := range set.Outputs {
			wt, err := helperToTensor(want)
			if err != nil {
				return nil, err
			}
			g := got[outNames[i]]
			if fmt.Sprint(g.Shape) != fmt.Sprint(wt.Shape) {
				return nil, fmt.Errorf("%w: output %s has shape %v in ONNX, %v in %s (inputs %d)", ErrParity, outNames[i], g.Shape, wt.Shape, req.Framework, si)
			}
			a, err1 := wt.AsFloat32s()
			b, err2 := g.AsFloat32s()
			if err1 != nil || err2 != nil {
				continue
			}
			d := deviation(outNames[i], a, b)
			if w := worst[d.Output]; w == nil {
				worst[d.Output] = &d
			} else {
				w.MaxAbs, w.MaxRel = math.Max(w.MaxAbs, d.MaxAbs), math.Max(w.MaxRel, d.MaxRel)
			}
		}
	}
	for _, n := range outNames {
		if d := worst[n]; d != nil {
			rep.Outputs = append(rep.Outputs, *d)
			if d.MaxAbs > req.Tolerance {
				rep.Passed = false
			}
		}
	}
	if !rep.Passed {
		return rep, fmt.Errorf("%w: the ONNX model's outputs differ from %s's by more than --tolerance %g", ErrParity, req.Framework, req.Tolerance)
	}
	return rep, nil
}

func helperToTensor(t helperTensor) (*runtime.Tensor, error) {
	data, err := base64.StdEncoding.DecodeString(t.Data)
	if err != nil {
		return nil, fmt.Errorf("helper tensor %s: %w", t.Name, err)
	}
	dt, ok := map[string]onnx.DataType{"float32": onnx.Float, "float64": onnx.Double, "float16": onnx.Float16,
		"int64": onnx.Int64, "int32": onnx.Int32, "int8": onnx.Int8, "uint8": onnx.Uint8, "bool": onnx.Bool}[t.DType]
	if !ok {
		return nil, fmt.Errorf("helper tensor %s has dtype %s, which mlops cannot compare", t.Name, t.DType)
	}
	return &runtime.Tensor{DataType: dt, Shape: t.Shape, Data: data}, nil
}
