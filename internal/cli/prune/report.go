package prune

import (
	"fmt"
	"strings"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	core "github.com/mlops-dev/mlops/internal/optimize/prune"
)

func printReport(io *cmdutil.IOStreams, r *core.Report, out string) error {
	structured := r.Mode == "structured"
	headers := []string{"layer", "op", "params", "sparsity before", "sparsity after", "norm kept"}
	if structured {
		headers = []string{"layer", "op", "shape", "channels kept", "params after", "norm kept"}
	}
	t := cmdutil.NewTable(io, headers...)
	for _, l := range r.Layers {
		if structured {
			t.AddRow(l.Name, l.OpType, fmt.Sprintf("%v → %v", dims(l.Shape), dims(l.ShapeAfter)),
				fmt.Sprintf("%d/%d", l.ChannelsKept, l.Channels), fmt.Sprint(l.ParamsAfter), pct(l.NormRetained))
			continue
		}
		t.AddRow(l.Name, l.OpType, fmt.Sprint(l.Params), pct(l.SparsityBefore), pct(l.SparsityAfter), pct(l.NormRetained))
	}
	if err := t.Render(); err != nil {
		return err
	}
	w := io.Out
	fmt.Fprintf(w, "\n%s pruning (%s", r.Mode, r.Criterion)
	if r.Mode == "unstructured" {
		fmt.Fprintf(w, ", %s scope", r.Scope)
	}
	fmt.Fprintf(w, "): %d layers, sparsity %s → %s", len(r.Layers), pct(r.SparsityBefore), pct(r.SparsityAfter))
	if structured {
		fmt.Fprintf(w, ", parameters %d → %d", r.Params, r.ParamsAfter)
	}
	fmt.Fprintln(w)
	if r.FLOPs > 0 {
		note := ""
		if !r.FLOPsComplete {
			note = " (lower bound: some shapes unknown)"
		}
		fmt.Fprintf(w, "FLOPs at batch 1: %d → %d (%s)%s\n", r.FLOPs, r.FLOPsAfter, pct(ratio(r.FLOPsAfter, r.FLOPs)), note)
	}
	fmt.Fprintf(w, "file: %d → %d bytes", r.BytesBefore, r.BytesAfter)
	if r.SparseStored > 0 {
		fmt.Fprintf(w, " (%d tensors stored sparse)", r.SparseStored)
	}
	fmt.Fprintf(w, ", written to %s\n", out)
	if a := r.Accuracy; a != nil {
		fmt.Fprintf(w, "accuracy on %d rows: %.4f → %.4f (drop %.4f)\n", a.Samples, a.Before, a.After, a.Drop)
	}
	if len(r.Search) > 0 {
		fmt.Fprintf(w, "max-drop search chose sparsity %.3f after %d steps\n", r.Sparsity, len(r.Search))
	}
	printSkipped(io, r)
	return nil
}

func printSkipped(io *cmdutil.IOStreams, r *core.Report) {
	if len(r.Skipped) == 0 {
		return
	}
	fmt.Fprintf(io.Out, "left alone (%d):\n", len(r.Skipped))
	for _, s := range r.Skipped {
		fmt.Fprintf(io.Out, "  %s (%s): %s\n", s.Name, s.Node, s.Reason)
	}
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func dims(d []int64) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, "×")
}
