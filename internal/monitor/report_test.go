package monitor

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestMarkdownGolden(t *testing.T) {
	r := sampleReport(t)
	r.Current.Path, r.Reference.Path = "logs/", "ref.npy"
	var buf bytes.Buffer
	if err := r.WriteMarkdown(&buf, 0); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "report.md.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if buf.String() != string(want) {
		t.Errorf("markdown differs from %s (go test -update rewrites it):\n%s", golden, buf.String())
	}
}

func TestWriteHTML(t *testing.T) {
	r := sampleReport(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := r.WriteHTML(path, HTMLOptions{MaxPlots: 2}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{"<h1>Model monitoring: tab</h1>", "DATASET DRIFT", "<svg", "x[0] — ks p=", "FAIL: accuracy is 0.5", "Live quality (window 1h0m0s)"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if n := strings.Count(html, "<svg"); n != 2 {
		t.Errorf("%d plots, want 2", n)
	}
	if strings.Contains(html, "<?xml") || strings.Contains(html, "http://") && strings.Contains(html, "<link") {
		t.Error("report is not self-contained inline HTML")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if err := r.WriteHTML(filepath.Join(dir, "missing", "r.html"), HTMLOptions{}); err == nil {
		t.Error("writing into a missing folder: no error")
	}
}
