package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// ResolveModel turns a command-line model argument into a local file: arg itself when it is an
// existing file, otherwise a registry reference (NAME, NAME@VERSION, NAME@ALIAS) pulled into
// cacheDir/sha256/<model digest>/, reused on later calls. The manifest is nil for local files.
func ResolveModel(ctx context.Context, reg *Registry, arg, cacheDir string) (string, *Manifest, error) {
	if st, err := os.Stat(arg); err == nil {
		if st.IsDir() {
			return "", nil, fmt.Errorf("%w: %s is a directory; pass the .onnx file", ErrInvalid, arg)
		}
		return arg, nil, nil
	}
	ref, err := ParseRef(arg)
	if err != nil {
		return "", nil, fmt.Errorf("%s is neither an existing file nor a registry reference (NAME, NAME@VERSION or NAME@ALIAS): %w", arg, err)
	}
	if reg == nil {
		return "", nil, fmt.Errorf("%w: %s is not a file and no registry is configured", ErrNotFound, arg)
	}
	if cacheDir == "" {
		return "", nil, fmt.Errorf("%w: no cache directory to pull %s into", ErrInvalid, arg)
	}
	m, err := reg.Resolve(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(cacheDir, "sha256", m.Files[0].SHA256)
	local := filepath.Join(dir, filepath.FromSlash(m.ModelFile()))
	if cachedComplete(m, dir) {
		return local, m, nil
	}
	// Overwrite: a partial entry (an interrupted pull of another file) is replaced.
	if _, _, err := reg.Pull(ctx, m.Ref(), local, PullOptions{Overwrite: true}); err != nil {
		return "", nil, err
	}
	return local, m, nil
}

// cachedComplete reports whether every file of m is present in dir with the right size. Pull
// renames files into place only after verifying their digests, so size is a sufficient check.
func cachedComplete(m *Manifest, dir string) bool {
	for _, f := range m.Files {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || st.Size() != f.Size {
			return false
		}
	}
	return true
}
