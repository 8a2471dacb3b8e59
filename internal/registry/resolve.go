package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ResolveModel turns a command-line model argument into a local file: arg itself when it is an
// existing file, otherwise a registry reference (NAME, NAME@VERSION, NAME@ALIAS) pulled into
// cacheDir/sha256/<model digest>/, reused on later calls. The manifest is nil for local files.
func ResolveModel(ctx context.Context, reg *Registry, arg, cacheDir string) (string, *Manifest, error) {
	st, statErr := os.Stat(arg)
	if statErr == nil {
		if st.IsDir() {
			return "", nil, fmt.Errorf("%w: %s is a directory; pass the .onnx file", ErrInvalid, arg)
		}
		return arg, nil, nil
	}
	if !errors.Is(statErr, fs.ErrNotExist) {
		return "", nil, statErr // permission denied, a path through a file: the file's problem
	}
	ref, err := ParseRef(arg)
	if err != nil {
		if looksLikeFile(arg) {
			// ./models/m.onnx cannot be a registry name: the file is what is missing.
			return "", nil, &sentinelError{arg + ": no such file", fs.ErrNotExist}
		}
		return "", nil, fmt.Errorf("%s is neither an existing file nor a registry reference (NAME, NAME@VERSION or NAME@ALIAS): %w", arg, err)
	}
	if reg == nil {
		return "", nil, fmt.Errorf("%w: %s: no such file, and no registry is configured to look it up in", ErrNotFound, arg)
	}
	if cacheDir == "" {
		return "", nil, fmt.Errorf("%w: no cache directory to pull %s into", ErrInvalid, arg)
	}
	m, err := reg.Resolve(ctx, ref)
	if err != nil {
		if errors.Is(err, ErrNotFound) && looksLikeFile(arg) {
			return "", nil, &sentinelError{fmt.Sprintf("%s: no such file (and the registry %s has no model of that name)", arg, reg.url), ErrNotFound}
		}
		if errors.Is(err, ErrNotFound) && ref.Version == 0 && ref.Alias == "" {
			return "", nil, fmt.Errorf("%s is neither a file nor a model in the registry: %w", arg, err)
		}
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

// looksLikeFile reports whether a model argument was meant as a file path rather than a registry
// reference: it has a folder in it or a model file's extension.
func looksLikeFile(arg string) bool {
	if strings.ContainsRune(arg, '/') || strings.ContainsRune(arg, filepath.Separator) {
		return true
	}
	switch strings.ToLower(filepath.Ext(strings.SplitN(arg, "@", 2)[0])) {
	case ".onnx", ".ort", ".pb", ".pt", ".pth":
		return true
	}
	return false
}
