package convert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/export"
)

func printReport(io *cmdutil.IOStreams, format cmdutil.Format, r *export.Report) error {
	if format == cmdutil.FormatJSON {
		return cmdutil.PrintJSON(io, r)
	}
	w := io.Out
	fmt.Fprintf(w, "%s -> %s\n", r.Input, orNone(r.Output))
	fmt.Fprintf(w, "steps: %s\n", strings.Join(r.Steps, ", "))
	if r.NodesBefore > 0 {
		fmt.Fprintf(w, "nodes %d -> %d", r.NodesBefore, r.NodesAfter)
		if r.BytesAfter > 0 {
			fmt.Fprintf(w, ", size %d -> %d bytes (%.1f%%)", r.BytesBefore, r.BytesAfter, 100*float64(r.BytesAfter)/float64(max(r.BytesBefore, 1)))
		}
		fmt.Fprintln(w)
	}
	t := cmdutil.NewTable(io, "change", "count")
	add := func(name string, n int) {
		if n > 0 {
			t.AddRow(name, strconv.Itoa(n))
		}
	}
	add("symbolic dims fixed", r.DimsFixed)
	add("metadata set", r.MetaSet)
	if op := r.Opset; op != nil {
		fmt.Fprintf(w, "opset %d -> %d\n", op.From, op.To)
		for name, n := range op.Rewritten {
			add(name+" rewritten for the new opset", n)
		}
	}
	add("weights imported", r.WeightsImported)
	add("weights exported", r.WeightsExported)
	if o := r.Optimize; o != nil {
		add("Identity/Dropout removed", o.IdentityRemoved)
		add("nodes constant-folded", o.ConstantsFolded)
		add("Conv+BatchNormalization fused", o.ConvBatchNormFused)
		add("Conv+Add/Mul fused", o.ConvAddMulFused)
		add("MatMul+Add -> Gemm", o.GemmFused)
		add("dead nodes removed", o.DeadNodesRemoved)
		add("unused initializers removed", o.InitializersRemoved)
		add("duplicate initializers merged", o.InitializersDeduped)
	}
	if f := r.FP16; f != nil {
		add("nodes in float16", f.NodesConverted)
		add("nodes kept in float32", f.NodesKept)
		add("initializers to float16", f.InitializersChanged)
		add("casts inserted", f.CastsInserted)
		add("values clamped to ±65504", f.ValuesClamped)
	}
	if t.Len() > 0 {
		if err := t.Render(); err != nil {
			return err
		}
	}
	if p := r.Parity; p != nil {
		status := "passed"
		if !p.Passed {
			status = "FAILED"
		}
		fmt.Fprintf(w, "\nparity with %s (tolerance %g): %s\n", p.Framework, p.Tolerance, status)
		if err := deviationTable(io, p.Outputs); err != nil {
			return err
		}
	}
	if r.VerifySkipped != "" {
		fmt.Fprintf(w, "\nnote: %s\n", r.VerifySkipped)
	}
	if len(r.Deviation) > 0 {
		fmt.Fprintln(w, "\noutput deviation from the input model (seeded random inputs):")
		return deviationTable(io, r.Deviation)
	}
	return nil
}

func deviationTable(io *cmdutil.IOStreams, devs []export.Deviation) error {
	t := cmdutil.NewTable(io, "output", "max abs error", "max rel error")
	for _, d := range devs {
		t.AddRow(d.Output, strconv.FormatFloat(d.MaxAbs, 'g', 3, 64), strconv.FormatFloat(d.MaxRel, 'g', 3, 64))
	}
	return t.Render()
}

func orNone(s string) string {
	if s == "" {
		return "(no model written)"
	}
	return s
}
