package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// PushOptions are the optional parts of a new version.
type PushOptions struct {
	Aliases  []string           // aliases to point at the new version
	Metadata map[string]string  // free-form key/value pairs
	Metrics  map[string]float64 // e.g. accuracy from an eval report
	Message  string
	Lineage  *Lineage
	Host     string // recorded in Source.Host; the CLI passes os.Hostname
	Progress ProgressFunc
}

// Push stores the ONNX model at modelPath (with the external data files it references) as the
// next version of name and returns its manifest. Blobs are uploaded first, content-addressed so
// identical files are stored once; the manifest is created last with a conditional write, so the
// version appears atomically, and concurrent pushes of the same name each get their own number.
func (r *Registry) Push(ctx context.Context, modelPath, name string, opts PushOptions) (*Manifest, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	for _, a := range opts.Aliases {
		if err := ValidateAlias(a); err != nil {
			return nil, err
		}
	}
	for k := range opts.Metadata {
		if k == "" {
			return nil, fmt.Errorf("%w: metadata keys must not be empty", ErrInvalid)
		}
	}
	if opts.Lineage != nil && opts.Lineage.Parent != "" {
		if _, err := ParseRef(opts.Lineage.Parent); err != nil {
			return nil, fmt.Errorf("lineage parent: %w", err)
		}
	}
	abs, err := filepath.Abs(modelPath)
	if err != nil {
		return nil, err
	}
	locals, sig, err := collectFiles(ctx, abs, opts.Progress)
	if err != nil {
		return nil, err
	}
	var total int64
	files := make([]File, len(locals))
	for i, lf := range locals {
		if err := r.uploadFile(ctx, lf, opts.Progress); err != nil {
			return nil, err
		}
		files[i] = lf.File
		total += lf.Size
	}
	m := &Manifest{
		SchemaVersion: SchemaVersion,
		Name:          name,
		Files:         files,
		Size:          total,
		Source:        Source{Path: abs, Host: opts.Host},
		Lineage:       opts.Lineage,
		Signature:     *sig,
		Metadata:      opts.Metadata,
		Metrics:       opts.Metrics,
		Message:       opts.Message,
	}
	if err := r.claimVersion(ctx, m); err != nil {
		return nil, err
	}
	for _, a := range opts.Aliases {
		if _, err := r.Promote(ctx, name, m.Version, a); err != nil {
			return m, fmt.Errorf("%s@%d was pushed but setting alias %q failed (retry with 'mlops promote %s@%d --alias %s'): %w", name, m.Version, a, name, m.Version, a, err)
		}
	}
	return m, nil
}

// localFile is one file of a model being pushed: its manifest entry, where it is on disk, and
// the CRC-32C of the hashing pass, which the upload pass recomputes to catch a file changed in
// between at a fraction of the cost of a second sha256.
type localFile struct {
	File
	path string
	crc  uint32
}

// collectFiles scans the model, finds its external data files and hashes everything.
func collectFiles(ctx context.Context, modelPath string, progress ProgressFunc) ([]localFile, *Signature, error) {
	fh, err := os.Open(modelPath)
	if err != nil {
		return nil, nil, fmt.Errorf("open model: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file; pass the .onnx model file", ErrInvalid, modelPath)
	}
	scan, err := scanModel(fh, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	dir := filepath.Dir(modelPath)
	rels := append([]string{filepath.Base(modelPath)}, scan.ExternalFiles...)
	files := make([]localFile, 0, len(rels))
	for i, rel := range rels {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: the model references external data %q, which is not at %s; keep data files next to the model", ErrInvalid, rel, p)
		}
		if i > 0 {
			// The same check as every command that reads external data: a symbolic link that
			// leads out of the model's folder (link.data -> /etc/passwd) is refused, so a push
			// never uploads, and a pull never writes back, a file the model does not own.
			real, err := onnx.ResolveLocation(dir, rel)
			if err != nil {
				if errors.Is(err, onnx.ErrUnsafeLocation) {
					return nil, nil, fmt.Errorf("%w: %s: %v", ErrInvalid, modelPath, err)
				}
				return nil, nil, err
			}
			p = real
		}
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, nil, fmt.Errorf("%w: external data %s is not a regular file", ErrInvalid, p)
		}
		if e := scan.Extents[rel]; i > 0 && e.End > fi.Size() {
			return nil, nil, fmt.Errorf("%w: external data %s holds %d bytes, but tensor %q reads up to byte %d: the file is truncated or belongs to another model; save or export the model again", ErrInvalid, p, fi.Size(), e.Tensor, e.End)
		}
		sum, err := hashFile(ctx, p, rel, fi.Size(), progress)
		if err != nil {
			return nil, nil, err
		}
		role := "external_data"
		if i == 0 {
			role = "model"
		}
		files = append(files, localFile{File: File{Path: rel, SHA256: sum.sha256, Size: fi.Size(), Role: role}, path: p, crc: sum.crc})
	}
	return files, &scan.Signature, nil
}

// claimVersion writes the manifest as version max+1, retrying with a higher number when another
// push claimed it first.
func (r *Registry) claimVersion(ctx context.Context, m *Manifest) error {
	for attempt := 0; ; attempt++ {
		_, maxUsed, err := r.versionNumbers(ctx, m.Name)
		if err != nil {
			return err
		}
		m.Version = maxUsed + 1
		m.Created = r.opts.Now().UTC()
		err = r.createRecord(ctx, manifestKey(m.Name, m.Version), m)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errExists) || attempt >= maxClaimAttempts {
			return fmt.Errorf("create version %d of %s: %w", m.Version, m.Name, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}
