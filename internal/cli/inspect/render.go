package inspect

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/onnx"
)

// render prints the report as titled sections of tables.
func render(io *cmdutil.IOStreams, r *Report) error {
	cmdutil.Heading(io, "Model "+r.Path)
	kv := cmdutil.NewTable(io)
	kv.AddRow("IR version", strconv.FormatInt(r.IRVersion, 10))
	kv.AddRow("producer", strings.TrimSpace(r.ProducerName+" "+r.ProducerVersion))
	if r.Domain != "" || r.ModelVersion != 0 {
		kv.AddRow("model", strings.TrimSpace(r.Domain+" version "+strconv.FormatInt(r.ModelVersion, 10)))
	}
	kv.AddRow("graph", r.GraphName)
	kv.AddRow("opsets", opsetList(r.Opsets))
	kv.AddRow("nodes", nodeSummary(r))
	kv.AddRow("parameters", fmt.Sprintf("%s in %d initializer(s), %s", thousands(r.Parameters), r.Initializers, humanBytes(r.InitializerBytes)))
	if r.Functions > 0 {
		kv.AddRow("functions", strconv.Itoa(r.Functions))
	}
	if err := kv.Render(); err != nil {
		return err
	}

	for _, sec := range []struct {
		title  string
		values []onnx.ValueSummary
	}{{"Inputs", r.Inputs}, {"Outputs", r.Outputs}} {
		fmt.Fprintln(io.Out)
		cmdutil.Heading(io, sec.title)
		t := cmdutil.NewTable(io, "name", "dtype", "shape")
		for _, v := range sec.values {
			t.AddRow(v.Name, v.DType, shapeString(v.Shape))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}

	fmt.Fprintln(io.Out)
	cmdutil.Heading(io, "Operators")
	ops := cmdutil.NewTable(io, "op_type", "count", "in_subgraphs")
	for _, k := range sortedByCount(r.OpTypes) {
		sub := ""
		if n := r.SubgraphOpTypes[k]; n > 0 {
			sub = strconv.Itoa(n)
		}
		ops.AddRow(k, strconv.Itoa(r.OpTypes[k]), sub)
	}
	if err := ops.Render(); err != nil {
		return err
	}

	if len(r.BytesByDType) > 0 {
		fmt.Fprintln(io.Out)
		cmdutil.Heading(io, "Initializer bytes by type")
		t := cmdutil.NewTable(io, "dtype", "bytes")
		for _, k := range sortedKeys(r.BytesByDType) {
			t.AddRow(k, humanBytes(r.BytesByDType[k]))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.ExternalData) > 0 {
		fmt.Fprintln(io.Out)
		cmdutil.Heading(io, "External data")
		t := cmdutil.NewTable(io, "file", "tensors", "bytes")
		for _, e := range r.ExternalData {
			t.AddRow(e.Location, strconv.Itoa(e.Tensors), humanBytes(e.Bytes))
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(r.MetadataProps) > 0 {
		fmt.Fprintln(io.Out)
		cmdutil.Heading(io, "Metadata")
		t := cmdutil.NewTable(io, "key", "value")
		for _, k := range sortedKeys(r.MetadataProps) {
			t.AddRow(k, r.MetadataProps[k])
		}
		if err := t.Render(); err != nil {
			return err
		}
	}
	if r.Check != nil {
		fmt.Fprintln(io.Out)
		cmdutil.Heading(io, "Check")
		if r.Check.OK {
			fmt.Fprintln(io.Out, "ok: no problems found")
			return nil
		}
		t := cmdutil.NewTable(io, "where", "problem")
		for _, p := range r.Check.Problems {
			t.AddRow(p.Path, p.Message)
		}
		return t.Render()
	}
	return nil
}

func nodeSummary(r *Report) string {
	s := strconv.Itoa(r.Nodes)
	if r.SubgraphNodes > 0 {
		s += fmt.Sprintf(" (%d inside subgraphs)", r.SubgraphNodes)
	}
	return s
}

func opsetList(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, d := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", d, m[d]))
	}
	return strings.Join(parts, ", ")
}

// shapeString writes [batch, 1, 28, 28]; "?" marks an unknown dimension and
// "unknown" an unknown rank.
func shapeString(shape []any) string {
	if shape == nil {
		return "unknown"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		switch v := d.(type) {
		case nil:
			parts[i] = "?"
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortedByCount orders op types by descending count, then name.
func sortedByCount(m map[string]int) []string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
}

func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
