package ls

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/registry"
)

// column is one column of a listing.
type column struct {
	header string
	cells  []string
}

// step is one way a table gives way on a narrow terminal: cut column col to at most minShrink
// cells (with …), or leave it out.
type step struct {
	col  string // header
	drop bool
}

const minShrink = 8

func (c column) width() int {
	w := ansi.StringWidth(c.header)
	for _, s := range c.cells {
		w = max(w, ansi.StringWidth(s))
	}
	return w
}

// tableWidth is what cmdutil.Table prints for these columns on a terminal: a border before
// every column and after the last, one space of padding on each side of every cell.
func tableWidth(cols []column) int {
	w := 1
	for _, c := range cols {
		w += c.width() + 3
	}
	return w
}

// fit builds the table, taking steps in order until it fits the terminal. Pipes (width 0) get
// every column whole.
func fit(io *cmdutil.IOStreams, cols []column, steps ...step) *cmdutil.Table {
	if limit := io.TerminalWidth(); limit > 0 {
		cols = fitColumns(cols, limit, steps)
	}
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	t := cmdutil.NewTable(io, headers...)
	rows := 0
	if len(cols) > 0 {
		rows = len(cols[0].cells)
	}
	for r := 0; r < rows; r++ {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = c.cells[r]
		}
		t.AddRow(row...)
	}
	return t
}

func fitColumns(cols []column, limit int, steps []step) []column {
	orig := map[string]column{}
	for _, c := range cols {
		orig[c.header] = c
	}
	var cuts []string
	for _, st := range steps {
		over := tableWidth(cols) - limit
		if over <= 0 {
			break
		}
		i := slices.IndexFunc(cols, func(c column) bool { return c.header == st.col })
		switch {
		case i < 0:
		case st.drop:
			cols = slices.Delete(slices.Clone(cols), i, i+1)
		case cols[i].width() > minShrink:
			cols[i] = cut(cols[i], max(minShrink, cols[i].width()-over))
			cuts = append(cuts, st.col)
		}
	}
	// A column cut before a later step dropped another may have room again: give it back.
	for _, h := range slices.Backward(cuts) {
		i := slices.IndexFunc(cols, func(c column) bool { return c.header == h })
		if slack := limit - tableWidth(cols); i >= 0 && slack > 0 {
			cols[i] = cut(orig[h], min(orig[h].width(), cols[i].width()+slack))
		}
	}
	return cols // when even the essential columns do not fit, the terminal wraps them
}

// cut shortens every cell (and the header) of c to at most w cells, ending cut ones with "…".
func cut(c column, w int) column {
	out := column{header: ansi.Truncate(c.header, w, "…"), cells: make([]string, len(c.cells))}
	for i, s := range c.cells {
		out.cells[i] = ansi.Truncate(s, w, "…")
	}
	return out
}

// headline is the order in which metrics are chosen for the table when --metrics is not
// given: the figures people compare versions by first. A metric matches by its full name or by
// its last dotted part (eval.accuracy matches accuracy).
var headline = []string{
	"accuracy", "balanced_accuracy", "f1_macro", "f1", "roc_auc_macro", "roc_auc", "top5_accuracy",
	"precision_macro", "recall_macro", "r2", "rmse", "mae", "mse", "loss",
}

// maxHeadline metric columns are shown by default.
const maxHeadline = 3

// chooseMetrics picks the metric columns: the ones asked for, else up to maxHeadline by the
// headline order, then the metrics most versions have, by name.
func chooseMetrics(versions []registry.VersionSummary, asked []string) []string {
	if len(asked) > 0 {
		out := make([]string, len(asked))
		for i, a := range asked {
			out[i] = strings.TrimSpace(a)
		}
		return out
	}
	count := map[string]int{}
	for _, v := range versions {
		for k := range v.Metrics {
			count[k]++
		}
	}
	rank := func(k string) int {
		last := k[strings.LastIndex(k, ".")+1:]
		for i, h := range headline {
			if k == h || last == h {
				return i
			}
		}
		return len(headline)
	}
	names := make([]string, 0, len(count))
	for k := range count {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := names[i], names[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if count[a] != count[b] {
			return count[a] > count[b]
		}
		return a < b
	})
	return names[:min(len(names), maxHeadline)]
}

// metricHeaders names the metric columns: by the last dotted part (eval.accuracy → accuracy)
// when that is unambiguous among them and they were not asked for by name.
func metricHeaders(metrics []string, asked bool) []string {
	out := make([]string, len(metrics))
	seen := map[string]int{}
	for i, m := range metrics {
		out[i] = m
		if !asked {
			out[i] = m[strings.LastIndex(m, ".")+1:]
		}
		seen[out[i]]++
	}
	for i := range out {
		if seen[out[i]] > 1 {
			out[i] = metrics[i]
		}
	}
	return out
}

func versionsTable(io *cmdutil.IOStreams, versions []registry.VersionSummary, asked []string) *cmdutil.Table {
	metrics := chooseMetrics(versions, asked)
	headers := metricHeaders(metrics, len(asked) > 0)
	cols := []column{{header: "version"}, {header: "created"}, {header: "size"}, {header: "aliases"}}
	for _, h := range headers {
		cols = append(cols, column{header: h})
	}
	cols = append(cols, column{header: "message"})
	for _, v := range versions {
		cols[0].cells = append(cols[0].cells, fmt.Sprint(v.Version))
		cols[1].cells = append(cols[1].cells, v.Created.Local().Format(timeFormat))
		cols[2].cells = append(cols[2].cells, cmdutil.HumanBytes(v.Size))
		cols[3].cells = append(cols[3].cells, strings.Join(v.Aliases, ","))
		for i, m := range metrics {
			cell := "-"
			if x, ok := v.Metrics[m]; ok {
				cell = fmt.Sprintf("%.4g", x)
			}
			cols[4+i].cells = append(cols[4+i].cells, cell)
		}
		msg, _, _ := strings.Cut(v.Message, "\n") // the first line, as git log --oneline
		cols[len(cols)-1].cells = append(cols[len(cols)-1].cells, msg)
	}
	// On a narrow terminal: the message gives way first, then the aliases are cut, then the
	// metrics go, last one first. Version, created and size always stay.
	steps := []step{{col: "message"}, {col: "message", drop: true}, {col: "aliases"}}
	for i := len(headers) - 1; i >= 0; i-- {
		steps = append(steps, step{col: headers[i], drop: true})
	}
	return fit(io, cols, steps...)
}
