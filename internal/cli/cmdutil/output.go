package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"
	"github.com/muesli/termenv"
)

// Format is the value of --output.
type Format string

// Output formats. JSON field names are a contract: snake_case, never renamed.
const (
	FormatTable    Format = "table"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown" // for PR comments; commands without a markdown form print their table
)

// ParseFormat validates an --output value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatTable, FormatJSON, FormatMarkdown:
		return Format(s), nil
	case "":
		return FormatTable, nil
	}
	return "", FlagErrorf("invalid --output %q: use table, json or markdown", s)
}

// PrintJSON writes v as indented JSON with a trailing newline. Field order
// follows the struct, map keys are sorted, and HTML characters are not
// escaped, so the output is stable and diff-friendly.
func PrintJSON(s *IOStreams, v any) error {
	return WriteJSON(s.Out, v)
}

// WriteJSON is PrintJSON for any writer.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// Table collects rows and renders them: with lipgloss borders and a bold
// header when stdout is a terminal, as plain aligned columns otherwise (so
// that grep, awk and diffs work). Colour follows IOStreams.ColorEnabled.
type Table struct {
	io      *IOStreams
	headers []string
	rows    [][]string
}

// NewTable starts a table with the given column headers (may be empty).
func NewTable(s *IOStreams, headers ...string) *Table {
	return &Table{io: s, headers: headers}
}

// AddRow appends a row; missing cells are blank.
func (t *Table) AddRow(cells ...string) { t.rows = append(t.rows, cells) }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table to stdout.
func (t *Table) Render() error {
	if t.io.IsStdoutTTY() {
		_, err := fmt.Fprintln(t.io.Out, t.styled())
		return err
	}
	tw := tabwriter.NewWriter(t.io.Out, 0, 4, 2, ' ', 0)
	if len(t.headers) > 0 {
		fmt.Fprintln(tw, strings.Join(upper(t.headers), "\t"))
	}
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func (t *Table) styled() string {
	r := Renderer(t.io)
	header := r.NewStyle().Bold(true).Padding(0, 1)
	cell := r.NewStyle().Padding(0, 1)
	tbl := table.New().
		Border(lipgloss.RoundedBorder()).
		BorderStyle(r.NewStyle().Foreground(lipgloss.Color("8"))).
		StyleFunc(func(row, _ int) lipgloss.Style {
			if row == table.HeaderRow {
				return header
			}
			return cell
		}).
		Rows(t.rows...)
	if len(t.headers) > 0 {
		tbl = tbl.Headers(t.headers...)
	}
	return tbl.Render()
}

// Renderer returns a lipgloss renderer for stdout that emits colour only
// when the streams allow it.
func Renderer(s *IOStreams) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(s.Out)
	if s.ColorEnabled() {
		r.SetColorProfile(termenv.ANSI256)
	} else {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

// Heading writes a section title: bold on a colour terminal, "== title =="
// style underlining otherwise.
func Heading(s *IOStreams, title string) {
	if s.ColorEnabled() {
		fmt.Fprintln(s.Out, Renderer(s).NewStyle().Bold(true).Foreground(lipgloss.Color("12")).Render(title))
		return
	}
	fmt.Fprintln(s.Out, title)
}

func upper(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToUpper(s)
	}
	return out
}
