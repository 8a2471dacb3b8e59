package retrain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlops-dev/mlops/internal/buildinfo"
	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/eval"
	"github.com/mlops-dev/mlops/internal/registry"
	core "github.com/mlops-dev/mlops/internal/retrain"
)

// pushResult says what --push did. JSON names are a contract.
type pushResult struct {
	Name     string   `json:"name"`
	Version  int      `json:"version"`
	Aliases  []string `json:"aliases"`        // aliases now pointing at the new version
	Promoted bool     `json:"promoted"`       // the gate held (or there was none) and the aliases moved
	Held     []string `json:"held,omitempty"` // aliases left where they were because the gate failed
}

// report is the JSON of a retrain run: the core report and the push.
type report struct {
	*core.Report
	PeakRSSBytes int64       `json:"peak_rss_bytes,omitempty"` // of the whole mlops process
	Push         *pushResult `json:"push,omitempty"`
}

// publish pushes the trained model as a new version of o.Push with its
// metrics and lineage, and moves the aliases only when the gate holds.
func (o *RetrainOptions) publish(ctx context.Context, rep *core.Report, parent *registry.Manifest) (*pushResult, error) {
	reg, err := o.Factory.Registry(ctx, o.Registry, registry.Options{})
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	lin, err := o.lineage(rep, parent)
	if err != nil {
		return nil, err
	}
	metrics := map[string]float64{}
	ev := rep.Evaluation
	if ev != nil {
		for k, v := range ev.Metrics {
			if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
				metrics[k] = f
			}
		}
		if c := ev.Compare; c != nil && c.McNemar != nil {
			metrics["mcnemar_p_value"] = c.McNemar.PValue
		}
	}
	promote := ev == nil || ev.GatesPassed()
	opts := registry.PushOptions{Metrics: metrics, Lineage: lin, Message: "retrain of " + o.Model}
	if promote {
		opts.Aliases = o.Aliases
	}
	opts.Host, _ = os.Hostname()
	m, err := reg.Push(ctx, o.Output, o.Push, opts)
	if err != nil {
		return nil, err
	}
	res := &pushResult{Name: m.Name, Version: m.Version, Promoted: promote, Aliases: []string{}}
	if promote {
		res.Aliases = append(res.Aliases, o.Aliases...)
	} else {
		res.Held = o.Aliases
	}
	return res, nil
}

// lineage records where the version came from: the parent version, the
// digests of the data, the hyperparameters and this mlops.
func (o *RetrainOptions) lineage(rep *core.Report, parent *registry.Manifest) (*registry.Lineage, error) {
	lin := &registry.Lineage{Transformation: "retrain", Tool: buildinfo.Get().String(), Hyperparameters: map[string]string{}}
	if parent != nil {
		lin.Parent = parent.Ref().String()
	}
	for k, v := range rep.Hyperparameters {
		lin.Hyperparameters[k] = v
	}
	lin.Hyperparameters["trainable"] = o.Trainable
	lin.Hyperparameters["mode"] = rep.Mode
	lin.Hyperparameters["update_bn_stats"] = fmt.Sprint(o.UpdateBNStats)
	lin.Hyperparameters["reinit"] = fmt.Sprint(o.Reinit)
	if o.ValSplit > 0 {
		lin.Hyperparameters["val_split"] = fmt.Sprint(o.ValSplit)
	}
	if o.Limit > 0 {
		lin.Hyperparameters["limit"] = fmt.Sprint(o.Limit)
	}
	files := [][2]string{{"train_data", o.Data}, {"train_labels", o.Labels}, {"val_data", o.ValData},
		{"val_labels", o.ValLabels}, {"teacher", o.Teacher}, {"teacher_logits", o.TeacherLogits}}
	for _, f := range files {
		if f[1] == "" {
			continue
		}
		if _, err := os.Stat(f[1]); err != nil {
			// A registry reference (the teacher): record the reference itself.
			lin.Hyperparameters[f[0]] = f[1]
			continue
		}
		df, err := digest(f[0], f[1])
		if err != nil {
			return nil, err
		}
		lin.Data = append(lin.Data, df)
	}
	return lin, nil
}

func digest(role, path string) (registry.DataFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return registry.DataFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return registry.DataFile{}, fmt.Errorf("hash %s: %w", path, err)
	}
	abs, _ := filepath.Abs(path)
	return registry.DataFile{Role: role, Path: abs, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// printEvaluation prints the challenger's metrics beside the champion's
// and the gates.
func printEvaluation(s *cmdutil.IOStreams, ev *eval.Report) error {
	if ev == nil {
		return nil
	}
	fmt.Fprintln(s.Out)
	headers := []string{"metric", "retrained"}
	if ev.Compare != nil {
		headers = append(headers, "champion", "delta")
	}
	t := cmdutil.NewTable(s, headers...)
	var names []string
	for _, n := range []string{"accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc", "mae", "rmse", "r2"} {
		if _, ok := ev.Metrics[n]; ok {
			names = append(names, n)
		}
	}
	for _, g := range ev.Gates {
		if !contains(names, g.Metric) {
			names = append(names, g.Metric)
		}
	}
	for _, n := range names {
		row := []string{n, eval.FormatNum(ev.Metrics[n])}
		if ev.Compare != nil {
			c := ev.Compare.Metrics[n]
			row = append(row, eval.FormatNum(c), fmt.Sprintf("%+.4f", float64(ev.Metrics[n])-float64(c)))
		}
		t.AddRow(row...)
	}
	if err := t.Render(); err != nil {
		return err
	}
	if c := ev.Compare; c != nil && c.McNemar != nil {
		// eval's comparison: B counts rows only the baseline (champion) gets right, C only the model.
		fmt.Fprintf(s.Out, "McNemar exact test: p = %.4g (%d rows only the retrained model gets right, %d only the champion)\n",
			c.McNemar.PValue, c.McNemar.C, c.McNemar.B)
	}
	for _, g := range ev.Gates {
		verdict := "passed"
		if !g.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(s.Out, "gate %s: %s (%s vs threshold %s)\n", g.Gate, verdict, eval.FormatNum(g.Actual), eval.FormatNum(g.Threshold))
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// printPush says what was pushed and where the aliases are.
func printPush(s *cmdutil.IOStreams, p *pushResult) {
	ref := fmt.Sprintf("%s@%d", p.Name, p.Version)
	switch {
	case len(p.Held) > 0:
		held := append([]string(nil), p.Held...)
		sort.Strings(held)
		fmt.Fprintf(s.Out, "pushed %s; the gate failed, so %s stays where it was (promote later with 'mlops promote %s --alias %s')\n",
			ref, strings.Join(held, ", "), ref, held[0])
	case len(p.Aliases) > 0:
		fmt.Fprintf(s.Out, "pushed %s and moved %s to it\n", ref, strings.Join(p.Aliases, ", "))
	default:
		fmt.Fprintf(s.Out, "pushed %s\n", ref)
	}
}
