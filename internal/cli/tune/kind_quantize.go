package tune

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/cli/quantize"
	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/optimize/quant"
	"github.com/mlops-dev/mlops/internal/safefile"
	coretune "github.com/mlops-dev/mlops/internal/tune"
)

func quantizeKind() *trialKind {
	return &trialKind{
		newCmd: func(f *cmdutil.Factory, capture func(any)) *cobra.Command {
			return quantize.NewCmdQuantize(f, func(o *quantize.QuantizeOptions) error { capture(o); return nil })
		},
		args: []string{"model"},
		extra: map[string]string{"fallback": "leave in float the N quantized layers whose quantization costs the most accuracy " +
			"(ranked once per run, as Intel Neural Compressor's basic strategy ranks them)"},
		owned: map[string]string{"force": "the trial's folder is its own; remove force:"},
		need:  map[string]string{"data": needData},
		paths: append([]string{"calibration-data"}, dataPaths...),
		objective: func(_ context.Context, env *kindEnv) (coretune.Objective, error) {
			rt, err := env.f.Runtime()
			if err != nil {
				return nil, err
			}
			return &quantizeObjective{env: env, judge: newJudge(rt), ranks: map[string][]layerGain{}}, nil
		},
	}
}

// quantizeObjective runs `mlops quantize` in process for each trial and judges the model.
type quantizeObjective struct {
	env   *kindEnv
	judge *judge

	mu    sync.Mutex
	ranks map[string][]layerGain // by quantize configuration (without fallback)
}

// layerGain is what leaving one layer in float wins back, alone, from the fully quantized model.
type layerGain struct {
	Node     string   `json:"node"`
	OpType   string   `json:"op_type"`
	SNRdB    *float64 `json:"snr_db,omitempty"` // of its output; nil for a graph output
	Accuracy float64  `json:"accuracy"`         // with only this layer in float
	Gain     float64  `json:"gain"`             // accuracy − accuracy with every layer quantized
}

func (q *quantizeObjective) Run(ctx context.Context, t *coretune.TrialRun) (coretune.Result, error) {
	out := filepath.Join(t.Dir, trialModel)
	opts, extra, err := q.env.parseTrial(ctx, t, []string{out})
	if err != nil {
		return coretune.Result{}, err
	}
	o := opts.(*quantize.QuantizeOptions)
	req, err := o.Request()
	if err != nil {
		return coretune.Result{}, err
	}
	ds := req.Eval
	req.Eval = data.Spec{} // the judge evaluates, against the float model's evaluation done once
	fallback := 0
	if v, ok := extra["fallback"]; ok {
		if fallback, err = strconv.Atoi(v); err != nil || fallback < 0 {
			return coretune.Result{}, fmt.Errorf("fallback %q: give the number of layers to leave in float (0, 1, 2, ...)", v)
		}
	}
	var float []string
	if fallback > 0 {
		rank, err := q.ranking(ctx, t.Dir, req, ds)
		if err != nil {
			return coretune.Result{}, err
		}
		for _, l := range rank[:min(fallback, len(rank))] {
			float = append(float, l.Node)
		}
		req.Options.ExcludeNodes = append(slices.Clone(req.Options.ExcludeNodes), float...)
	}
	_ = os.Remove(out) // from an earlier attempt of this trial
	if _, err := quant.Run(ctx, q.judge.rt, req); err != nil {
		return coretune.Result{}, fmt.Errorf("quantize: %w", err)
	}
	m, err := q.judge.measure(ctx, req.Input, out, ds, req.Session)
	if err != nil {
		return coretune.Result{}, err
	}
	m["fallback_layers"] = float64(len(float))
	if err := writeJSON(ctx, filepath.Join(t.Dir, "float_layers.json"), float); err != nil {
		return coretune.Result{}, err
	}
	return coretune.Result{Metrics: m, Artifact: out}, nil
}

// ranking orders the layers a configuration quantizes by the accuracy each one costs: the
// model is quantized whole, then once with each layer alone left in float; the layers that
// win back the most come first (ties: the lower output SNR first). It is computed once per
// configuration and run, and written to sensitivity.json in the folder of the trial that
// needed it first.
func (q *quantizeObjective) ranking(ctx context.Context, dir string, req quant.Request, ds data.Spec) ([]layerGain, error) {
	key := fmt.Sprintf("%s|%+v|%+v", req.Input, req.Options, req.Calibration)
	q.mu.Lock()
	defer q.mu.Unlock()
	if r, ok := q.ranks[key]; ok {
		return r, nil
	}
	work := filepath.Join(dir, "sensitivity")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	all := req
	all.Output, all.Eval = filepath.Join(work, "all.onnx"), ds
	rep, err := quant.Run(ctx, q.judge.rt, all)
	if err != nil {
		return nil, fmt.Errorf("rank the layers: quantize all: %w", err)
	}
	base, err := q.judge.accuracy(ctx, all.Output, ds, req.Session)
	if err != nil {
		return nil, fmt.Errorf("rank the layers: %w", err)
	}
	layers, err := candidates(req.Input, rep)
	if err != nil {
		return nil, fmt.Errorf("rank the layers: %w", err)
	}
	var rank []layerGain
	for _, l := range layers {
		one := req
		one.Output = filepath.Join(work, "one.onnx")
		one.Options.ExcludeNodes = append(slices.Clone(req.Options.ExcludeNodes), l.Node)
		_ = os.Remove(one.Output)
		if _, err := quant.Run(ctx, q.judge.rt, one); err != nil {
			return nil, fmt.Errorf("rank the layers: quantize without %s: %w", l.Node, err)
		}
		acc, err := q.judge.accuracy(ctx, one.Output, ds, req.Session)
		if err != nil {
			return nil, fmt.Errorf("rank the layers: %w", err)
		}
		g := layerGain{Node: l.Node, OpType: l.OpType, Accuracy: acc, Gain: acc - base}
		if !math.IsNaN(l.SNRdB) {
			g.SNRdB = &l.SNRdB
		}
		rank = append(rank, g)
	}
	slices.SortStableFunc(rank, func(a, b layerGain) int {
		switch {
		case a.Gain > b.Gain:
			return -1
		case a.Gain < b.Gain:
			return 1
		}
		return 0
	})
	if err := writeJSON(ctx, filepath.Join(dir, "sensitivity.json"), map[string]any{"accuracy_all_quantized": base, "layers": rank}); err != nil {
		return nil, err
	}
	q.ranks[key] = rank
	return rank, nil
}

// candidates are the layers the comparison of the fully quantized model measured (worst
// output SNR first), then the quantized kinds of node whose output is a graph output (the
// comparison does not measure those: the model's own outputs are compared whole).
func candidates(model string, rep *quant.Report) ([]quant.LayerSNR, error) {
	var out []quant.LayerSNR
	seen := map[string]bool{}
	if rep.Eval != nil {
		for _, l := range rep.Eval.Layers {
			if !seen[l.Node] {
				seen[l.Node] = true
				out = append(out, l)
			}
		}
	}
	m, err := onnx.Load(model)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	g := m.Proto.GetGraph()
	outputs := map[string]bool{}
	for _, o := range g.GetOutput() {
		outputs[o.GetName()] = true
	}
	for _, n := range g.GetNode() {
		if seen[n.GetName()] || rep.NodesQuantized[n.GetOpType()] == 0 || n.GetName() == "" {
			continue
		}
		for _, o := range n.GetOutput() {
			if outputs[o] {
				seen[n.GetName()] = true
				out = append(out, quant.LayerSNR{Node: n.GetName(), OpType: n.GetOpType(), Tensor: o, SNRdB: math.NaN()})
				break
			}
		}
	}
	return out, nil
}

func writeJSON(ctx context.Context, path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return safefile.WriteFile(ctx, path, append(b, '\n'), true)
}
