package quantize

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/optimize/quant"
)

func printTable(io *cmdutil.IOStreams, r *quant.Report) error {
	w := io.Out
	mode := string(r.Mode)
	if r.Format != "" {
		mode += " (" + string(r.Format) + ")"
	}
	fmt.Fprintf(w, "%s -> %s\n", r.Input, r.Output)
	fmt.Fprintf(w, "mode %s, weights %s, activations %s, %.2fs\n", mode, r.WeightType, r.ActivationType, r.DurationSeconds)
	if r.Bits == 4 {
		sym := "with zero points"
		if r.Symmetric {
			sym = "symmetric"
		}
		fmt.Fprintf(w, "4-bit %s, block %d, %s, accuracy level %d\n", r.Algorithm, r.BlockSize, sym, r.AccuracyLevel)
	}
	fmt.Fprintf(w, "size %s -> %s (%.1f%%)\n", human(r.BytesBefore), human(r.BytesAfter), 100*r.SizeRatio)
	if c := r.Calibration; c != nil {
		fmt.Fprintf(w, "calibration %s on %d samples (%d tensors)\n", c.Method, c.Samples, c.Tensors)
	}
	fmt.Fprintln(w)
	ops := make([]string, 0, len(r.NodesQuantized))
	for op := range r.NodesQuantized {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	t := cmdutil.NewTable(io, "op type", "quantized")
	for _, op := range ops {
		t.AddRow(op, strconv.Itoa(r.NodesQuantized[op]))
	}
	if err := t.Render(); err != nil {
		return err
	}
	if len(r.NodesSkipped) > 0 {
		fmt.Fprintln(w)
		t := cmdutil.NewTable(io, "skipped node", "op type", "reason")
		for _, s := range r.NodesSkipped {
			t.AddRow(s.Graph+s.Node, s.OpType, s.Reason)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.Layers) > 0 {
		fmt.Fprintln(w)
		t := cmdutil.NewTable(io, "layer", "op type", "k x n", "weight error", "output error")
		for _, l := range r.Layers {
			oe := "-"
			if l.OutputErr != nil {
				oe = fmt.Sprintf("%.4f", *l.OutputErr)
			}
			k := strconv.Itoa(l.K)
			if l.Padded {
				k += " (padded)"
			}
			t.AddRow(l.Node, l.OpType, k+" x "+strconv.Itoa(l.N), fmt.Sprintf("%.4f", l.WeightErr), oe)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.CastsInserted) > 0 {
		fmt.Fprintln(w)
		t := cmdutil.NewTable(io, "cast inserted", "from", "to", "why")
		for _, c := range r.CastsInserted {
			t.AddRow(c.Node, c.From, c.To, c.Reason)
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	if e := r.Eval; e != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "eval on %d samples: top-1 agreement %.2f%%, output cosine %.5f\n", e.Samples, 100*e.Agreement, e.Cosine)
		if e.AccuracyFloat != nil {
			fmt.Fprintf(w, "accuracy fp32 %.2f%%, quantized %.2f%% (%+.2f pp)\n", 100**e.AccuracyFloat, 100**e.AccuracyQuantized, *e.AccuracyDeltaPP)
		}
		if len(e.Layers) > 0 {
			t := cmdutil.NewTable(io, "layer (worst first)", "op type", "snr db")
			for _, l := range e.Layers {
				t.AddRow(l.Node, l.OpType, fmt.Sprintf("%.1f", l.SNRdB))
			}
			if err := t.Render(); err != nil {
				return err
			}
		}
	}
	return nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
