package eval

import (
	"bytes"
	"context"
	"html/template"

	"github.com/mlops-dev/mlops/internal/plotio"
	"github.com/mlops-dev/mlops/internal/safefile"
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{"num": FormatNum}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mlops eval: {{.R.Model}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.fail{color:#b00;font-weight:bold}.pass{color:#070}
img{max-width:540px;margin:6px;border:1px solid #eee}.note{color:#555}
</style></head><body>
<h1>mlops eval</h1>
<p><b>{{.R.Model}}</b> — {{.R.Task}} on <code>{{.R.Data}}</code>, {{.R.Rows}} rows{{if .R.Classes}}, {{.R.Classes}} classes{{end}}</p>
{{if .R.Gates}}<h2>Gates</h2><table><tr><th>gate</th><th>actual</th><th>threshold</th><th>result</th></tr>
{{range .R.Gates}}<tr><td><code>{{.Gate}}</code></td><td>{{num .Actual}}</td><td>{{num .Threshold}}</td><td class="{{if .Passed}}pass">pass{{else}}fail">FAIL{{end}}</td></tr>
{{end}}</table>{{end}}
{{with .R.Compare}}<h2>Compared with {{.Baseline}}</h2>
<table><tr><th>metric</th><th>delta (model − baseline)</th><th>95% CI</th></tr>
{{range $k, $d := .Deltas}}<tr><td>{{$k}}</td><td>{{num $d.Delta}}</td><td>[{{num $d.CILow}}, {{num $d.CIHigh}}]</td></tr>{{end}}</table>
{{with .McNemar}}<p>McNemar exact test: {{.B}} rows only the baseline got right, {{.C}} only the model; p = {{printf "%.4g" .PValue}}.</p>{{end}}
<p>Agreement: {{num .Agreement}} (bootstrap {{.Resamples}} resamples, seed {{.Seed}})</p>{{end}}
<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>
{{range .R.SummaryRows}}<tr><td>{{.Name}}</td><td>{{.Value}}</td></tr>{{end}}</table>
{{if .R.PerClass}}<h2>Per class</h2><table><tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th><th>roc_auc</th><th>pr_auc</th></tr>
{{range .R.PerClass}}<tr><td>{{.Class}}</td><td>{{num .Precision}}</td><td>{{num .Recall}}</td><td>{{num .F1}}</td><td>{{.Support}}</td><td>{{num .ROCAUC}}</td><td>{{num .PRAUC}}</td></tr>{{end}}</table>{{end}}
{{if .R.Confusion}}<h2>Confusion matrix</h2><table><tr><th>true \ predicted</th>{{range $i, $_ := .R.Confusion}}<th>{{$i}}</th>{{end}}</tr>
{{range $t, $row := .R.Confusion}}<tr><th>{{$t}}</th>{{range $row}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
<h2>Operational</h2><p>Model size: {{.R.ModelSizeBytes}} bytes; evaluation throughput {{num .R.EvalThroughputRPS}} rows/s.</p>
{{if .R.Latency}}<table><tr><th>batch size</th><th>runs</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>rows/s</th></tr>
{{range .R.Latency}}<tr><td>{{.BatchSize}}</td><td>{{.Runs}}</td><td>{{num .P50MS}}</td><td>{{num .P90MS}}</td><td>{{num .P99MS}}</td><td>{{num .ThroughputRPS}}</td></tr>{{end}}</table>{{end}}
{{if .Images}}<h2>Plots</h2>{{range .Images}}<img alt="{{.Name}}" src="{{.Src}}">{{end}}{{end}}
{{range .R.Notes}}<p class="note">{{.}}</p>{{end}}
</body></html>
`))

// WriteHTML writes the page HTML renders to path (through a temporary file; an existing regular
// file is replaced, anything else at path is refused).
func WriteHTML(ctx context.Context, r *Report, path string) error {
	b, err := HTML(ctx, r)
	if err != nil {
		return err
	}
	return safefile.WriteFile(ctx, path, b, true)
}

// HTML renders one self-contained page (plots embedded as PNG data URIs).
func HTML(ctx context.Context, r *Report) ([]byte, error) {
	plots, err := buildPlots(r)
	if err != nil {
		return nil, err
	}
	imgs, err := plotio.Images(ctx, plots)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct {
		R      *Report
		Images []plotio.Image
	}{r, imgs}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
