package plotio

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
)

func TestWriteFilesAndImages(t *testing.T) {
	p := plot.New()
	l, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	p.Add(l)
	dir := filepath.Join(t.TempDir(), "plots")
	files, err := WriteFiles(context.Background(), []Named{{"diag", p}}, dir)
	if err != nil || len(files) != 2 {
		t.Fatalf("%v %v", files, err)
	}
	for _, f := range files {
		if st, err := os.Stat(f); err != nil || st.Size() < 500 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	imgs, err := Images(context.Background(), []Named{{"diag", p}})
	if err != nil || len(imgs) != 1 || !strings.HasPrefix(string(imgs[0].Src), "data:image/png;base64,iVBOR") {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := WriteFiles(ctx, []Named{{"x", p}}, dir); err == nil {
		t.Fatal("cancelled write succeeded")
	}
}
