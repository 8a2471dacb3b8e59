package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
)

// versionNumbers lists the version numbers of name that have a manifest (live) and those that
// were ever claimed, including removed ones (used, so numbers are never reused).
func (r *Registry) versionNumbers(ctx context.Context, name string) (live []int, maxUsed int, err error) {
	keys, err := r.listKeys(ctx, versionsPrefix(name))
	if err != nil {
		return nil, 0, err
	}
	for _, k := range keys {
		if n, ok := parseNumbered(k, versionsPrefix(name), ".json"); ok {
			live = append(live, n)
			maxUsed = max(maxUsed, n)
		} else if n, ok := parseNumbered(k, versionsPrefix(name), ".removed"); ok {
			maxUsed = max(maxUsed, n)
		}
	}
	sort.Ints(live)
	return live, maxUsed, nil
}

// Manifest reads the manifest of name@version.
func (r *Registry) Manifest(ctx context.Context, name string, version int) (*Manifest, error) {
	data, err := r.readRecord(ctx, manifestKey(name, version))
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s@%d does not exist; run 'mlops ls %s' to see its versions", ErrNotFound, name, version, name)
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(data)
	if err != nil {
		return nil, err
	}
	if m.Name != name || m.Version != version {
		return nil, fmt.Errorf("%w: manifest stored as %s@%d claims to be %s@%d", ErrInvalid, name, version, m.Name, m.Version)
	}
	return m, nil
}

// Resolve finds the manifest a reference names: a version, an alias's current version, or the
// latest version.
func (r *Registry) Resolve(ctx context.Context, ref Ref) (*Manifest, error) {
	if err := ValidateName(ref.Name); err != nil {
		return nil, err
	}
	switch {
	case ref.Version > 0:
		return r.Manifest(ctx, ref.Name, ref.Version)
	case ref.Alias != "":
		st, err := r.Alias(ctx, ref.Name, ref.Alias)
		if err != nil {
			return nil, err
		}
		return r.Manifest(ctx, ref.Name, st.Version)
	}
	live, _, err := r.versionNumbers(ctx, ref.Name)
	if err != nil {
		return nil, err
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("%w: model %q is not in the registry %s; run 'mlops ls' to see the models", ErrNotFound, ref.Name, r.url)
	}
	return r.Manifest(ctx, ref.Name, live[len(live)-1])
}

// ModelSummary is one row of `mlops ls`.
type ModelSummary struct {
	Name     string         `json:"name"`
	Versions int            `json:"versions"`
	Latest   int            `json:"latest"`
	Updated  time.Time      `json:"updated"`
	Aliases  map[string]int `json:"aliases"`
}

// Models lists the models that have at least one version.
func (r *Registry) Models(ctx context.Context) ([]ModelSummary, error) {
	var names []string
	it := r.bucket.List(&blob.ListOptions{Prefix: "models/", Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, "models/"), "/")
		if obj.IsDir && ValidateName(name) == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []ModelSummary
	for _, name := range names {
		live, _, err := r.versionNumbers(ctx, name)
		if err != nil {
			return nil, err
		}
		if len(live) == 0 {
			continue
		}
		m, err := r.Manifest(ctx, name, live[len(live)-1])
		if err != nil {
			return nil, err
		}
		aliases, err := r.aliasMap(ctx, name)
		if err != nil {
			return nil, err
		}
		out = append(out, ModelSummary{Name: name, Versions: len(live), Latest: m.Version, Updated: m.Created, Aliases: aliases})
	}
	return out, nil
}

// VersionSummary is one row of `mlops ls NAME`: the manifest plus the aliases pointing to it.
type VersionSummary struct {
	*Manifest
	Aliases []string `json:"aliases"`
}

// Versions lists every version of name, oldest first.
func (r *Registry) Versions(ctx context.Context, name string) ([]VersionSummary, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	live, _, err := r.versionNumbers(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(live) == 0 {
		return nil, fmt.Errorf("%w: model %q is not in the registry %s; run 'mlops ls' to see the models", ErrNotFound, name, r.url)
	}
	aliases, err := r.aliasMap(ctx, name)
	if err != nil {
		return nil, err
	}
	byVersion := map[int][]string{}
	for a, v := range aliases {
		byVersion[v] = append(byVersion[v], a)
	}
	out := make([]VersionSummary, 0, len(live))
	for _, v := range live {
		m, err := r.Manifest(ctx, name, v)
		if errors.Is(err, ErrNotFound) {
			continue // removed between list and read
		}
		if err != nil {
			return nil, err
		}
		as := byVersion[v]
		sort.Strings(as)
		if as == nil {
			as = []string{}
		}
		out = append(out, VersionSummary{Manifest: m, Aliases: as})
	}
	return out, nil
}
