package quant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"github.com/mlops-dev/mlops/internal/optimize/calib"
	"github.com/mlops-dev/mlops/internal/runtime"
	"google.golang.org/protobuf/proto"
)

// ErrEmptyCalibration means the calibration data had no rows.
var ErrEmptyCalibration = errors.New("calibration data is empty")

// CalibrationOptions configure Calibrate.
type CalibrationOptions struct {
	Collector calib.Options
	// MaxSamples stops after this many rows (0: all of them).
	MaxSamples int
	// Session configures the ORT session that runs the float model.
	Session runtime.SessionOptions
	// Progress, when set, is told about every calibration batch.
	Progress infer.Progress
}

// CalibrationStats describe a calibration run for the report.
type CalibrationStats struct {
	Method  string `json:"method"`
	Samples int    `json:"samples"`
	Batches int    `json:"batches"`
	Tensors int    `json:"tensors"`
}

// CalibrationTensors lists the activations static quantization with opts
// needs ranges for: the non-constant inputs and the outputs of every selected
// node, in the main graph and inside If/Loop/Scan bodies.
func CalibrationTensors(m *onnx.Model, opts Options) []string {
	seen := map[string]bool{}
	var out []string
	var walk func(g *onnxpb.GraphProto, parent *scope)
	walk = func(g *onnxpb.GraphProto, parent *scope) {
		s := newScope(g, parent, "", m.Proto.GetIrVersion() < 4)
		add := func(x string) {
			if x != "" && !seen[x] && s.resolveConst(x) == nil {
				seen[x] = true
				out = append(out, x)
			}
		}
		for _, n := range g.GetNode() {
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					walk(a.GetG(), s)
				}
				for _, sg := range a.GetGraphs() {
					walk(sg, s)
				}
			}
			if n.GetDomain() != "" || !contains(SupportedOpTypes(Static), n.GetOpType()) {
				continue
			}
			if ok, _ := opts.wants(n.GetName(), n.GetOpType()); !ok {
				continue
			}
			for i, x := range n.GetInput() {
				if i < 2 {
					add(x)
				}
			}
			add(firstOr(n.GetOutput(), ""))
		}
	}
	walk(m.Proto.GetGraph(), nil)
	return out
}

// Calibrate runs the float model over src and returns the calibrated range
// of each tensor. Only running statistics are kept: memory is one batch of
// activations plus a fixed-size histogram per tensor.
func Calibrate(ctx context.Context, rt *runtime.Runtime, m *onnx.Model, tensors []string, src data.Source, o CalibrationOptions) (map[string]Range, *CalibrationStats, error) {
	if err := o.Collector.Validate(); err != nil {
		return nil, nil, err
	}
	inputs := map[string]bool{}
	for _, vi := range m.Proto.GetGraph().GetInput() {
		inputs[vi.GetName()] = true
	}
	var fetch []string
	for _, t := range tensors {
		if !inputs[t] {
			fetch = append(fetch, t)
		}
	}
	sess, carries, cleanup, err := liftedSession(rt, m, fetch, o.Session)
	if err != nil {
		return nil, nil, err
	}
	outNames := make([]string, 0, len(carries))
	for k := range carries {
		outNames = append(outNames, k)
	}
	sort.Strings(outNames)
	defer cleanup()
	defer sess.Close()

	cols := map[string]calib.Collector{}
	for _, t := range tensors {
		cols[t] = calib.New(o.Collector)
	}
	st := &CalibrationStats{Method: string(o.Collector.Method), Tensors: len(tensors)}
	if st.Method == "" {
		st.Method = string(calib.MinMax)
	}
	for o.MaxSamples == 0 || st.Samples < o.MaxSamples {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("calibration data: %w", err)
		}
		o.Progress.Batch("calibrate", src, b)
		feeds, err := infer.Feed(b)
		if err != nil {
			return nil, nil, err
		}
		for name, t := range feeds {
			if c, ok := cols[name]; ok {
				if err := observe(c, t); err != nil {
					return nil, nil, fmt.Errorf("calibration input %s: %w", name, err)
				}
			}
		}
		if len(outNames) > 0 {
			outs, err := sess.Run(ctx, feeds, outNames)
			if err != nil {
				return nil, nil, fmt.Errorf("calibration run on rows %d..%d: %w", b.Offset, b.Offset+b.Rows-1, err)
			}
			for name, t := range outs {
				if err := observe(cols[carries[name]], t); err != nil {
					return nil, nil, fmt.Errorf("calibration tensor %s: %w", name, err)
				}
			}
		}
		st.Samples += b.Rows
		st.Batches++
	}
	if st.Samples == 0 {
		return nil, nil, fmt.Errorf("%w: give --calibration-data a file with at least one row", ErrEmptyCalibration)
	}
	ranges := map[string]Range{}
	for name, c := range cols {
		if lo, hi, ok := c.Range(); ok {
			ranges[name] = Range{Min: lo, Max: hi}
		}
	}
	return ranges, st, nil
}

func observe(c calib.Collector, t *runtime.Tensor) error {
	if t.DataType != onnx.Float {
		return nil // only float activations are quantized
	}
	v, err := t.Float32s()
	if err != nil {
		return err
	}
	c.Observe(v)
	return nil
}

// augmentedSession opens the model with the requested intermediate tensors
// added as graph outputs. Models with external data are written next to the
// original (so the data files resolve) and removed afterwards.
func augmentedSession(rt *runtime.Runtime, m *onnx.Model, fetch []string, so runtime.SessionOptions) (*runtime.Session, func(), error) {
	s, _, cleanup, err := liftedSession(rt, m, fetch, so)
	return s, cleanup, err
}

// liftedSession is augmentedSession for tensors that may live in
// subgraphs: it returns the session and, for each output to fetch, the
// tensor it carries.
func liftedSession(rt *runtime.Runtime, m *onnx.Model, want []string, so runtime.SessionOptions) (*runtime.Session, map[string]string, func(), error) {
	mp := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	g := mp.GetGraph()
	have := map[string]bool{}
	for _, o := range g.GetOutput() {
		have[o.GetName()] = true
	}
	main := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			main[o] = true
		}
	}
	fetch := map[string]string{}
	body := map[string]bool{}
	for _, t := range want {
		if main[t] {
			fetch[t] = t
		} else {
			body[t] = true
		}
	}
	if len(body) > 0 {
		l := &lifter{want: body, names: names{used: map[string]bool{}}}
		collectNames(g, l.names.used)
		for _, c := range l.lift(g) {
			fetch[c.src] = c.orig
		}
	}
	keys := make([]string, 0, len(fetch))
	for k := range fetch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, t := range keys {
		if !have[t] {
			g.Output = append(g.Output, floatValueInfo(t))
		}
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("calibration model: %w", err)
	}
	noop := func() {}
	if !hasExternal(mp) {
		s, err := rt.NewSession(b, so)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open model for calibration: %w", err)
		}
		return s, fetch, noop, nil
	}
	f, err := os.CreateTemp(m.Dir, ".mlops-calib-*.onnx")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("calibration model next to %s: %w", m.Dir, err)
	}
	cleanup := func() { os.Remove(f.Name()) }
	if _, err := f.Write(b); err != nil {
		f.Close()
		cleanup()
		return nil, nil, nil, err
	}
	if err := f.Close(); err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	s, err := rt.NewSession(f.Name(), so)
	if err != nil {
		cleanup()
		return nil, nil, nil, fmt.Errorf("open model for calibration: %w", err)
	}
	return s, fetch, cleanup, nil
}

func hasExternal(mp *onnxpb.ModelProto) bool {
	ext := false
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, t := range g.GetInitializer() {
			if onnx.IsExternal(t) {
				ext = true
			}
		}
		for _, n := range g.GetNode() {
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					walk(a.GetG())
				}
				for _, sg := range a.GetGraphs() {
					walk(sg)
				}
			}
		}
	}
	walk(mp.GetGraph())
	return ext
}
