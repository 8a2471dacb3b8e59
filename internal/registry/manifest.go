package registry

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SchemaVersion is the manifest format version written by this package.
const SchemaVersion = 1

// Manifest describes one immutable model version. JSON field names are a contract.
type Manifest struct {
	SchemaVersion int                `json:"schema_version"`
	Name          string             `json:"name"`
	Version       int                `json:"version"`
	Created       time.Time          `json:"created"`
	Files         []File             `json:"files"` // Files[0] is the ONNX model; the rest are its external data
	Size          int64              `json:"size"`  // sum of file sizes
	Source        Source             `json:"source"`
	Lineage       *Lineage           `json:"lineage,omitempty"`
	Signature     Signature          `json:"signature"`
	Metadata      map[string]string  `json:"metadata,omitempty"`
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	Message       string             `json:"message,omitempty"`
}

// File is one file of a version, stored as blob blobs/sha256/<SHA256>.
type File struct {
	Path   string `json:"path"` // relative to the model's folder; Files[0].Path is the model file name
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Role   string `json:"role"` // "model" or "external_data"
}

// Source records where a version was pushed from.
type Source struct {
	Path string `json:"path,omitempty"` // absolute path of the pushed model file
	Host string `json:"host,omitempty"`
}

// Lineage links a version to the version it was derived from.
type Lineage struct {
	Parent         string            `json:"parent,omitempty"`         // NAME@VERSION
	Transformation string            `json:"transformation,omitempty"` // e.g. quantize, prune, convert, retrain
	Options        map[string]string `json:"options,omitempty"`        // e.g. quantize options
	// Data are the files the version was made from (retrain: training and
	// validation data and labels), with their digests.
	Data []DataFile `json:"data,omitempty"`
	// Hyperparameters of a training run, by name.
	Hyperparameters map[string]string `json:"hyperparameters,omitempty"`
	// Tool is the program and version that made it, e.g. "mlops v0.4.0 (commit 1a2b3c4d5e6f)".
	Tool string `json:"tool,omitempty"`
}

// DataFile is one input file of a transformation.
type DataFile struct {
	Role   string `json:"role"` // e.g. train_data, train_labels, val_data, val_labels, teacher
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Ref returns NAME@VERSION for the manifest.
func (m *Manifest) Ref() Ref { return Ref{Name: m.Name, Version: m.Version} }

// ModelFile is the model's file name, e.g. "model.onnx".
func (m *Manifest) ModelFile() string { return m.Files[0].Path }

// errNewerSchema marks a manifest of a format this mlops does not know: it is not damaged, so it
// is never offered for removal.
var errNewerSchema = errors.New("written by a newer mlops")

// decodeManifest parses and validates manifest bytes read from the store. The store is not
// trusted: paths, digests and names are checked before anything acts on them. Errors say what is
// wrong; the caller names the manifest.
func decodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: not valid JSON: %v", ErrInvalid, err)
	}
	if m.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%w (%w): schema_version %d is not supported (want %d); upgrade mlops", ErrInvalid, errNewerSchema, m.SchemaVersion, SchemaVersion)
	}
	if m.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("%w: schema_version %d is not a manifest version (want %d)", ErrInvalid, m.SchemaVersion, SchemaVersion)
	}
	if err := ValidateName(m.Name); err != nil {
		return nil, err
	}
	if m.Version <= 0 {
		return nil, fmt.Errorf("%w: version %d must be positive", ErrInvalid, m.Version)
	}
	if len(m.Files) == 0 {
		return nil, fmt.Errorf("%w: it lists no files", ErrInvalid)
	}
	seen := map[string]bool{}
	var total int64
	for i, f := range m.Files {
		if err := ValidateRelPath(f.Path); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%w: it lists %q twice", ErrInvalid, f.Path)
		}
		seen[f.Path] = true
		if !validDigest(f.SHA256) {
			return nil, fmt.Errorf("%w: file %q has a malformed sha256", ErrInvalid, f.Path)
		}
		if f.Size < 0 {
			return nil, fmt.Errorf("%w: file %q has a negative size", ErrInvalid, f.Path)
		}
		wantRole := "external_data"
		if i == 0 {
			wantRole = "model"
		}
		if f.Role != wantRole {
			return nil, fmt.Errorf("%w: file %q has role %q, want %q", ErrInvalid, f.Path, f.Role, wantRole)
		}
		total += f.Size
	}
	if total != m.Size {
		return nil, fmt.Errorf("%w: size %d is not the sum of its files (%d)", ErrInvalid, m.Size, total)
	}
	return &m, nil
}

func validDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == lowerHex(s)
}

func lowerHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
