package push

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadMetrics(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "m.json")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	m, err := readMetrics(write(`{"accuracy":0.9,"eval":{"f1":{"macro":0.8}},"model":"x","ok":true,"list":[1]}`))
	if err != nil || len(m) != 2 || m["accuracy"] != 0.9 || m["eval.f1.macro"] != 0.8 {
		t.Fatalf("%v %v", m, err)
	}
	// An eval report keeps eval's metric names.
	m, err = readMetrics(write(`{"model":"m.onnx","task":"classification","rows":10,"metrics":{"accuracy":0.9,"f1_macro":0.8},"operational":{"model_size_bytes":5}}`))
	if err != nil || len(m) != 2 || m["accuracy"] != 0.9 || m["f1_macro"] != 0.8 {
		t.Fatalf("eval report: %v %v", m, err)
	}
	for in, want := range map[string]string{`[1,2]`: "want a JSON object", `{"a":"b"}`: "no numeric fields", `{`: "not valid JSON"} {
		if _, err := readMetrics(write(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestParseMeta(t *testing.T) {
	m, err := parseMeta([]string{"team=vision", "note=a=b", "empty="})
	if err != nil || m["team"] != "vision" || m["note"] != "a=b" || m["empty"] != "" {
		t.Fatalf("%v %v", m, err)
	}
	for _, bad := range []string{"novalue", "=x", " =x"} {
		if _, err := parseMeta([]string{bad}); err == nil {
			t.Errorf("--meta %q accepted", bad)
		}
	}
}
