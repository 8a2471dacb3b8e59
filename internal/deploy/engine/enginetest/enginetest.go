// Package enginetest provides fake models and a fake loader so the engine
// and the HTTP server can be tested without ONNX Runtime.
package enginetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/deploy/oip"
)

// Model is a fake model: metadata plus a function computing its outputs.
type Model struct {
	Version string
	Inputs  []engine.TensorMeta
	Outputs []engine.TensorMeta
	Fn      func(ctx context.Context, in []*oip.Tensor) ([]*oip.Tensor, error)
	// WarmErr makes every run fail until one succeeds (a model that loads
	// but cannot run), so the whole warm-up fails.
	WarmErr error
	// MinDim makes runs fail while the last dimension of an input is below
	// it, as ONNX Runtime's reflect Pad does on too short an input.
	MinDim int64
	// Hints are the warm-up shapes the model names (engine.WarmupHinter).
	Hints map[string][]int64
	// Runs records the input shapes of every run, warm-up included.
	Runs struct {
		sync.Mutex
		Shapes [][][]int64
	}
}

// Reflect is Scale over FP32 x [batch, samples] that, like a model
// reflect-padding its input by minDim-1, cannot run on fewer than minDim
// samples.
func Reflect(version string, minDim int64) *Model {
	m := Scale(version, 1, 0, 0)
	m.Inputs = []engine.TensorMeta{{Name: "x", Datatype: oip.FP32, Shape: []int64{-1, -1}, DimNames: []string{"batch", "samples"}}}
	m.Outputs = []engine.TensorMeta{{Name: "y", Datatype: oip.FP32, Shape: []int64{-1, -1}}}
	m.MinDim = minDim
	return m
}

// Scale is y = factor * x over FP32 [-1, width], taking delay per run.
func Scale(version string, factor float32, width int64, delay time.Duration) *Model {
	return &Model{
		Version: version,
		Inputs:  []engine.TensorMeta{{Name: "x", Datatype: oip.FP32, Shape: []int64{-1, width}}},
		Outputs: []engine.TensorMeta{{Name: "y", Datatype: oip.FP32, Shape: []int64{-1, width}}},
		Fn: func(ctx context.Context, in []*oip.Tensor) ([]*oip.Tensor, error) {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			v := in[0].Float32s()
			for i := range v {
				v[i] *= factor
			}
			return []*oip.Tensor{oip.NewFP32("y", in[0].Shape, v)}, nil
		},
	}
}

// Echo has one input "in_<DT>" of shape [-1, -1] per datatype and returns
// each as "out_<DT>".
func Echo(version string) *Model {
	m := &Model{Version: version}
	for _, dt := range oip.Datatypes {
		m.Inputs = append(m.Inputs, engine.TensorMeta{Name: "in_" + string(dt), Datatype: dt, Shape: []int64{-1, -1}})
		m.Outputs = append(m.Outputs, engine.TensorMeta{Name: "out_" + string(dt), Datatype: dt, Shape: []int64{-1, -1}})
	}
	m.Fn = func(_ context.Context, in []*oip.Tensor) ([]*oip.Tensor, error) {
		out := make([]*oip.Tensor, len(in))
		for i, t := range in {
			c := *t
			c.Name = "out_" + string(t.Datatype)
			out[i] = &c
		}
		return out, nil
	}
	return m
}

// Loader resolves references to fake models set with Set. It counts open
// backends so tests can check that reloads close what they replace.
type Loader struct {
	mu     sync.Mutex
	models map[string]*Model
	errs   map[string]error
	Live   atomic.Int64 // backends opened and not yet closed
	Opens  atomic.Int64
}

// NewLoader returns an empty loader.
func NewLoader() *Loader { return &Loader{models: map[string]*Model{}, errs: map[string]error{}} }

// Set makes ref resolve to m (a new version when m.Version changes).
func (l *Loader) Set(ref string, m *Model) {
	l.mu.Lock()
	l.models[ref] = m
	delete(l.errs, ref)
	l.mu.Unlock()
}

// FailOpen makes opening ref's next version fail with err.
func (l *Loader) FailOpen(ref string, err error) {
	l.mu.Lock()
	l.errs[ref] = err
	l.mu.Unlock()
}

// Resolve implements engine.Loader.
func (l *Loader) Resolve(_ context.Context, ref string) (engine.Resolved, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := l.models[ref]
	if m == nil {
		return engine.Resolved{}, fmt.Errorf("no model at %q", ref)
	}
	return engine.Resolved{Path: ref, Version: m.Version}, nil
}

// Open implements engine.Loader.
func (l *Loader) Open(_ context.Context, r engine.Resolved) (engine.Backend, error) {
	l.mu.Lock()
	m, err := l.models[r.Path], l.errs[r.Path]
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("no model at %q", r.Path)
	}
	l.Live.Add(1)
	l.Opens.Add(1)
	return &backend{m: m, l: l}, nil
}

type backend struct {
	m      *Model
	l      *Loader
	warmed atomic.Bool // a run has succeeded
	closed atomic.Bool
}

func (b *backend) Inputs() []engine.TensorMeta  { return b.m.Inputs }
func (b *backend) Outputs() []engine.TensorMeta { return b.m.Outputs }

func (b *backend) Run(ctx context.Context, in []*oip.Tensor, outputs []string) ([]*oip.Tensor, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("run on a closed backend (version %s)", b.m.Version)
	}
	shapes := make([][]int64, len(in))
	for i, t := range in {
		shapes[i] = append([]int64(nil), t.Shape...)
	}
	b.m.Runs.Lock()
	b.m.Runs.Shapes = append(b.m.Runs.Shapes, shapes)
	b.m.Runs.Unlock()
	if !b.warmed.Load() && b.m.WarmErr != nil {
		return nil, b.m.WarmErr
	}
	for _, t := range in {
		if d := len(t.Shape) - 1; d >= 0 && t.Shape[d] < b.m.MinDim {
			return nil, fmt.Errorf("Pad reflect requires axis length >= %d; input %q has shape %v", b.m.MinDim, t.Name, t.Shape)
		}
	}
	b.warmed.Store(true)
	out, err := b.m.Fn(ctx, in)
	if err != nil || len(outputs) == 0 {
		return out, err
	}
	var sel []*oip.Tensor
	for _, name := range outputs {
		for _, t := range out {
			if t.Name == name {
				sel = append(sel, t)
			}
		}
	}
	return sel, nil
}

// WarmupShapes implements engine.WarmupHinter.
func (b *backend) WarmupShapes() (map[string][]int64, error) { return b.m.Hints, nil }

// RunShapes returns the input shapes of every run so far.
func (m *Model) RunShapes() [][][]int64 {
	m.Runs.Lock()
	defer m.Runs.Unlock()
	return append([][][]int64(nil), m.Runs.Shapes...)
}

func (b *backend) Close() error {
	if !b.closed.Swap(true) {
		b.l.Live.Add(-1)
	}
	return nil
}
