package quant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/mlops-dev/mlops/internal/data"
	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/infer"
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// EvalReport compares the float and the quantized model on the same data.
type EvalReport struct {
	Samples int `json:"samples"`
	// Accuracies are present when the data has labels (top-1 of the first
	// output against integer labels).
	AccuracyFloat     *float64 `json:"accuracy_fp32,omitempty"`
	AccuracyQuantized *float64 `json:"accuracy_quantized,omitempty"`
	AccuracyDeltaPP   *float64 `json:"accuracy_delta_pp,omitempty"`
	// Agreement is the share of rows whose top-1 class is the same in both.
	Agreement float64 `json:"agreement"`
	// Cosine is the cosine similarity of the first output, over all rows.
	Cosine float64 `json:"cosine"`
	// Layers is the signal-to-noise ratio (dB) of every quantized node's
	// output, worst first: the layer that hurts most is at the top.
	Layers []LayerSNR `json:"layers"`
}

// LayerSNR is 10*log10(sum f^2 / sum (f-q)^2) for one tensor.
type LayerSNR struct {
	Node   string  `json:"node"`
	OpType string  `json:"op_type"`
	Tensor string  `json:"tensor"`
	SNRdB  float64 `json:"snr_db"`
}

type snrAcc struct{ signal, noise float64 }

// Evaluate runs both models over spec and compares them. layers name the
// tensors to compare (see Result.Layers); ones missing from either model
// (for example when QOperator fused the dequantization away) are skipped.
// progress, when set, is told about every batch.
func Evaluate(ctx context.Context, rt *runtime.Runtime, floatPath, quantPath string, layers []Layer, spec data.Spec, so runtime.SessionOptions, progress infer.Progress) (*EvalReport, error) {
	fm, err := onnx.Load(floatPath)
	if err != nil {
		return nil, err
	}
	defer fm.Close()
	qm, err := onnx.Load(quantPath)
	if err != nil {
		return nil, err
	}
	defer qm.Close()
	out := firstOr(graphOutputs(fm), "")
	if out == "" {
		return nil, errors.New("float model has no outputs")
	}
	fNames, qNames := producedNames(fm), producedNames(qm)
	var fetch []string
	var kept []Layer
	for _, l := range layers {
		if fNames[l.Tensor] && qNames[l.Tensor] && l.Tensor != out {
			fetch = append(fetch, l.Tensor)
			kept = append(kept, l)
		}
	}
	fs, fclean, err := augmentedSession(rt, fm, fetch, so)
	if err != nil {
		return nil, err
	}
	defer fclean()
	defer fs.Close()
	qs, qclean, err := augmentedSession(rt, qm, fetch, so)
	if err != nil {
		return nil, err
	}
	defer qclean()
	defer qs.Close()
	if spec.Inputs, err = infer.Inputs(fs.Inputs()); err != nil {
		return nil, err
	}
	src, err := data.Open(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("eval data: %w", err)
	}
	defer src.Close()

	want := append([]string{out}, fetch...)
	acc := map[string]*snrAcc{}
	for _, t := range want {
		acc[t] = &snrAcc{}
	}
	rep := &EvalReport{}
	var dot, ff, qq float64
	agree := 0
	// Accuracies go through eval, which checks the labels as `mlops eval`
	// does (integer class ids within the model's classes).
	var scoreF, scoreQ *eval.Collector
	if src.HasLabels() {
		scoreF, scoreQ = eval.NewCollector(eval.Classification, out), eval.NewCollector(eval.Classification, out)
	}
	for {
		b, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("eval data: %w", err)
		}
		progress.Batch("compare float and quantized", src, b)
		feeds, err := infer.Feed(b)
		if err != nil {
			return nil, err
		}
		fo, err := fs.Run(ctx, feeds, want)
		if err != nil {
			return nil, fmt.Errorf("float model: %w", err)
		}
		qo, err := qs.Run(ctx, feeds, want)
		if err != nil {
			return nil, fmt.Errorf("quantized model: %w", err)
		}
		for _, t := range want {
			f, err1 := fo[t].Float32s()
			q, err2 := qo[t].Float32s()
			if err1 != nil || err2 != nil || len(f) != len(q) {
				continue
			}
			a := acc[t]
			for i := range f {
				d := float64(f[i]) - float64(q[i])
				a.signal += float64(f[i]) * float64(f[i])
				a.noise += d * d
				if t == out {
					dot += float64(f[i]) * float64(q[i])
					ff += float64(f[i]) * float64(f[i])
					qq += float64(q[i]) * float64(q[i])
				}
			}
		}
		f, _ := fo[out].Float32s()
		q, _ := qo[out].Float32s()
		classes := 0
		if b.Rows > 0 {
			classes = len(f) / b.Rows
		}
		for r := 0; r < b.Rows && classes > 0; r++ {
			if argmax(f[r*classes:(r+1)*classes]) == argmax(q[r*classes:(r+1)*classes]) {
				agree++
			}
		}
		if scoreF != nil {
			if err := scoreF.AddScores(b, fo[out].Shape, f); err != nil {
				return nil, err
			}
			if err := scoreQ.AddScores(b, qo[out].Shape, q); err != nil {
				return nil, err
			}
		}
		rep.Samples += b.Rows
	}
	if rep.Samples == 0 {
		return nil, errors.New("eval data is empty")
	}
	rep.Agreement = float64(agree) / float64(rep.Samples)
	if ff > 0 && qq > 0 {
		rep.Cosine = dot / math.Sqrt(ff*qq)
	}
	if scoreF != nil {
		af, err := accuracy(ctx, scoreF)
		if err != nil {
			return nil, fmt.Errorf("float model: %w", err)
		}
		aq, err := accuracy(ctx, scoreQ)
		if err != nil {
			return nil, fmt.Errorf("quantized model: %w", err)
		}
		d := (aq - af) * 100
		rep.AccuracyFloat, rep.AccuracyQuantized, rep.AccuracyDeltaPP = &af, &aq, &d
	}
	rep.Layers = []LayerSNR{}
	for _, l := range kept {
		rep.Layers = append(rep.Layers, LayerSNR{Node: l.Node, OpType: l.OpType, Tensor: l.Tensor, SNRdB: acc[l.Tensor].snr()})
	}
	sort.SliceStable(rep.Layers, func(i, j int) bool { return rep.Layers[i].SNRdB < rep.Layers[j].SNRdB })
	return rep, nil
}

func (a *snrAcc) snr() float64 {
	// Capped so that exact layers stay JSON-encodable.
	if a.noise == 0 || a.signal/a.noise > 1e20 {
		return 200
	}
	if a.signal == 0 {
		return 0
	}
	return 10 * math.Log10(a.signal/a.noise)
}

// accuracy scores collected outputs as `mlops eval` does.
func accuracy(ctx context.Context, c *eval.Collector) (float64, error) {
	p, _, err := c.Predictions()
	if err != nil {
		return 0, err
	}
	r, err := eval.Compute(ctx, p, eval.Options{})
	if err != nil {
		return 0, err
	}
	return r.Metric("accuracy"), nil
}

// CheckEvalData scores the float model on labelled evaluation data before
// any work, so labels eval would refuse (out of the model's classes, not
// integer, too few or too many) stop the run before anything is written.
// Unlabelled data is only opened and checked against the model's inputs.
func CheckEvalData(ctx context.Context, rt *runtime.Runtime, path string, spec data.Spec, so runtime.SessionOptions) error {
	if spec.LabelsPath == "" && spec.LabelColumn == "" {
		sess, err := rt.NewSession(path, so)
		if err != nil {
			return err
		}
		defer sess.Close()
		src, err := infer.Open(ctx, sess.Inputs(), spec)
		if err != nil {
			return fmt.Errorf("eval data: %w", err)
		}
		return src.Close()
	}
	_, err := eval.Run(ctx, rt, eval.Request{Model: eval.Model{Path: path}, Data: spec, Session: so})
	return err
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func graphOutputs(m *onnx.Model) []string {
	var out []string
	for _, o := range m.Proto.GetGraph().GetOutput() {
		out = append(out, o.GetName())
	}
	return out
}

func producedNames(m *onnx.Model) map[string]bool {
	p := map[string]bool{}
	for _, n := range m.Proto.GetGraph().GetNode() {
		for _, o := range n.GetOutput() {
			p[o] = true
		}
	}
	return p
}
