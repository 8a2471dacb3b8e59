// Package plotio saves the gonum/plot figures mlops draws for its reports (eval, tune) the
// same way everywhere: 6×4.5 inch PNG and SVG files in a folder, or PNG data URIs for a
// self-contained HTML page. It holds no state and reads no environment.
package plotio

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"html/template"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/mlops-dev/mlops/internal/safefile"
)

// Named is one figure and the file stem it is saved under.
type Named struct {
	Name string
	Plot *plot.Plot
}

// Encode renders p as png or svg.
func Encode(p *plot.Plot, format string) ([]byte, error) {
	wt, err := p.WriterTo(6*vg.Inch, 4.5*vg.Inch, format)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteFiles writes every plot as PNG and SVG into dir (created if needed) and returns the
// paths written.
func WriteFiles(ctx context.Context, plots []Named, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, np := range plots {
		for _, ext := range []string{"png", "svg"} {
			if err := ctx.Err(); err != nil {
				return files, err
			}
			b, err := Encode(np.Plot, ext)
			if err != nil {
				return files, fmt.Errorf("%s.%s: %w", np.Name, ext, err)
			}
			path := filepath.Join(dir, np.Name+"."+ext)
			if err := safefile.WriteFile(ctx, path, b, true); err != nil {
				return files, err
			}
			files = append(files, path)
		}
	}
	return files, nil
}

// Image is a plot embedded in a page.
type Image struct {
	Name string
	Src  template.URL
}

// Images renders every plot as a PNG data URI.
func Images(ctx context.Context, plots []Named) ([]Image, error) {
	var out []Image
	for _, np := range plots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := Encode(np.Plot, "png")
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", np.Name, err)
		}
		out = append(out, Image{np.Name, template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))})
	}
	return out, nil
}
