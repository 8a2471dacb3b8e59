package monitor

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadLabels(t *testing.T) {
	ctx := context.Background()
	l, err := ReadLabelsJSONL(ctx, strings.NewReader(`{"request_id":"a","label":3}
{"request_id":"b","label":"cat"}

{"request_id":"c","label":[1,0.0,true]}
{"request_id":"d","label":2.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "3", "b": "cat", "c": "1,0,1", "d": "2.5"}
	for id, w := range want {
		if got := strings.Join(l[id], ","); got != w {
			t.Errorf("%s: %q, want %q", id, got, w)
		}
	}
	l, err = ReadLabelsCSV(ctx, strings.NewReader("when,request_id,label\n1,a,3.0\n2,b,1|2\n"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(l["a"], ",") != "3" || strings.Join(l["b"], ",") != "1,2" {
		t.Errorf("csv labels %v", l)
	}
}

func TestReadLabelsBadInput(t *testing.T) {
	ctx := context.Background()
	for name, in := range map[string]string{
		"duplicate id": `{"request_id":"a","label":1}` + "\n" + `{"request_id":"a","label":2}`,
		"no id":        `{"label":1}`,
		"null label":   `{"request_id":"a","label":null}`,
		"object label": `{"request_id":"a","label":{"x":1}}`,
		"empty array":  `{"request_id":"a","label":[]}`,
		"not json":     `request_id,label`,
		"empty":        ``,
	} {
		if _, err := ReadLabelsJSONL(ctx, strings.NewReader(in)); err == nil {
			t.Errorf("JSONL %s: no error", name)
		}
	}
	for name, in := range map[string]string{
		"no label column": "request_id,y\na,1\n",
		"empty label":     "request_id,label\na,\n",
		"duplicate":       "request_id,label\na,1\na,2\n",
		"header only":     "request_id,label\n",
	} {
		if _, err := ReadLabelsCSV(ctx, strings.NewReader(in)); err == nil {
			t.Errorf("CSV %s: no error", name)
		}
	}
	p := filepath.Join(t.TempDir(), "labels.txt")
	os.WriteFile(p, []byte("x"), 0o644)
	if _, err := ReadLabelsFile(ctx, p); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("unknown extension: %v", err)
	}
}

func TestClassificationMetricsMatchSklearn(t *testing.T) {
	// sklearn.metrics on y_true=[0,1,2,2,1,0], y_pred=[0,2,2,2,1,1] (average="macro", zero_division=0):
	// accuracy 0.666667, precision 0.722222, recall 0.666667, f1 0.655556.
	m := ClassificationMetrics(strings.Split("0,1,2,2,1,0", ","), strings.Split("0,2,2,2,1,1", ","))
	for name, got := range map[string][2]float64{
		"accuracy": {m.Accuracy, 4.0 / 6}, "precision": {m.PrecisionMacro, 0.7222222222222222},
		"recall": {m.RecallMacro, 0.6666666666666666}, "f1": {m.F1Macro, 0.6555555555555556},
	} {
		if math.Abs(got[0]-got[1]) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got[0], got[1])
		}
	}
	// A class only predicted (never true) counts with recall 0/0 → 0, as zero_division=0 does.
	m = ClassificationMetrics([]string{"a", "a"}, []string{"a", "b"})
	if m.RecallMacro != 0.25 || m.PrecisionMacro != 0.5 {
		t.Errorf("zero division: %+v", m)
	}
}
