package report

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"sort"
	"strings"

	"github.com/mlops-dev/mlops/internal/plotio"
	"github.com/mlops-dev/mlops/internal/safefile"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"num": FormatNum, "params": formatParams, "values": func(r *Report, t *study.Trial) string { return FormatValues(r.Objectives, t) },
	"pct": func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mlops tune: {{.R.Study}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}td.p{text-align:left;font-family:monospace}
img{max-width:540px;margin:6px;border:1px solid #eee}.note{color:#555}
</style></head><body>
<h1>mlops tune</h1>
<p><b>{{.R.Study}}</b> — journal <code>{{.R.Storage}}</code>; objectives: {{range $i, $o := .R.Objectives}}{{if $i}}, {{end}}{{$o.Metric}} ({{$o.Direction}}){{end}}</p>
<table><tr><th>complete</th><th>pruned</th><th>failed</th><th>running</th></tr>
<tr><td>{{.R.Counts.Complete}}</td><td>{{.R.Counts.Pruned}}</td><td>{{.R.Counts.Failed}}</td><td>{{.R.Counts.Running}}</td></tr></table>
{{with .R.Best}}<h2>Best trial: {{.Number}}</h2><p>{{values $.R .}}</p><p class="note"><code>{{params .Params}}</code></p>{{end}}
{{if .R.Pareto}}<h2>Pareto front ({{len .R.Pareto}} trials)</h2><table><tr><th>trial</th><th>values</th><th>parameters</th></tr>
{{range .R.Pareto}}<tr><td>{{.Number}}</td><td>{{values $.R .}}</td><td class="p">{{params .Params}}</td></tr>{{end}}</table>{{end}}
{{if .R.Top}}<h2>Best trials</h2><table><tr><th>trial</th><th>values</th><th>parameters</th><th>seconds</th></tr>
{{range .R.Top}}<tr><td>{{.Number}}</td><td>{{values $.R .}}</td><td class="p">{{params .Params}}</td><td>{{num .Duration}}</td></tr>{{end}}</table>{{end}}
{{if .R.Importance}}<h2>Parameter importance</h2><table><tr><th>parameter</th><th>share</th></tr>
{{range .R.Importance}}<tr><td>{{.Param}}</td><td>{{pct .Share}}</td></tr>{{end}}</table>
<p class="note">First-order importance: the share of the objective's variance each parameter explains on its own (binned means over the completed trials); interactions are not counted.</p>{{end}}
{{if .Images}}<h2>Plots</h2>{{range .Images}}<img alt="{{.Name}}" src="{{.Src}}">{{end}}{{end}}
<p class="note">Generated {{.R.Generated.Format "2006-01-02 15:04:05 MST"}}.</p>
</body></html>
`))

// WriteHTML writes one self-contained page (plots embedded as PNG data URIs).
func WriteHTML(ctx context.Context, r *Report, path string) error {
	plots, err := r.plots()
	if err != nil {
		return err
	}
	imgs, err := plotio.Images(ctx, plots)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct {
		R      *Report
		Images []plotio.Image
	}{r, imgs}); err != nil {
		return err
	}
	return safefile.WriteFile(ctx, path, buf.Bytes(), true)
}

// FormatNum renders a value with 6 significant digits.
func FormatNum(v float64) string { return fmt.Sprintf("%.6g", v) }

// FormatValues renders a trial's objective values as "val_loss=0.231, acc=0.91".
func FormatValues(objs []study.Objective, t *study.Trial) string {
	if len(t.Values) != len(objs) {
		return ""
	}
	parts := make([]string, len(objs))
	for i, o := range objs {
		parts[i] = o.Metric + "=" + FormatNum(t.Values[i])
	}
	return strings.Join(parts, ", ")
}

// formatParams renders parameters as "lr=0.001 opt=adam" in name order.
func formatParams(p space.Params) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + space.FormatValue(p[k])
	}
	return strings.Join(parts, " ")
}

// FormatParams is formatParams for the CLI.
func FormatParams(p space.Params) string { return formatParams(p) }
