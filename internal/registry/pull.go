package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mlops-dev/mlops/internal/safefile"
)

// PullOptions tune Pull.
type PullOptions struct {
	Progress ProgressFunc
	// Overwrite replaces existing regular files at the destination; without it an existing file
	// is an error. Anything that is not a regular file (a device, FIFO, folder, symbolic link) is
	// always refused.
	Overwrite bool
}

// Pull downloads the version ref names to dest and returns its manifest and the local model
// path. dest is the model file path, or an existing directory to put the model in under its
// stored file name; external data files go next to the model under their stored relative paths.
// Every file is downloaded to a temp file in its destination folder and checked against the
// manifest's sha256 before any is renamed into place: on error or cancellation nothing is left at
// dest. Every target is checked before the first byte is downloaded.
func (r *Registry) Pull(ctx context.Context, ref Ref, dest string, opts PullOptions) (*Manifest, string, error) {
	m, err := r.Resolve(ctx, ref)
	if err != nil {
		return nil, "", err
	}
	modelPath := dest
	if st, err := os.Stat(dest); (err == nil && st.IsDir()) || strings.HasSuffix(dest, string(filepath.Separator)) || strings.HasSuffix(dest, "/") {
		modelPath = filepath.Join(dest, filepath.FromSlash(m.ModelFile()))
	}
	dir := filepath.Dir(modelPath)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("create %s: %w", dir, err)
	}
	targets := make([]string, len(m.Files))
	for i, f := range m.Files {
		targets[i] = modelPath
		if i > 0 {
			targets[i] = filepath.Join(dir, filepath.FromSlash(f.Path))
		}
		if err := safefile.Check(targets[i], opts.Overwrite); err != nil {
			return nil, "", fmt.Errorf("pull %s: %w", m.Ref(), err)
		}
	}
	renames := make([]safefile.Rename, 0, len(m.Files))
	defer func() {
		for _, r := range renames {
			os.Remove(r.Temp) // after a successful rename this is a no-op
		}
	}()
	for i, f := range m.Files {
		target := targets[i]
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return nil, "", err
		}
		tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".part-*")
		if err != nil {
			return nil, "", fmt.Errorf("pull %s: %w", m.Ref(), err)
		}
		renames = append(renames, safefile.Rename{Temp: tmp.Name(), Target: target})
		err = r.downloadFile(ctx, f, tmp, opts.Progress)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, "", fmt.Errorf("pull %s: %w", m.Ref(), err)
		}
	}
	// Data files first, model last: a reader that sees the model sees its data too.
	slices.Reverse(renames)
	if err := safefile.Commit(ctx, renames...); err != nil {
		return nil, "", fmt.Errorf("pull %s: %w", m.Ref(), err)
	}
	return m, modelPath, nil
}
