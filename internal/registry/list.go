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

// Manifest reads the manifest of name@version. A manifest that cannot be used (not JSON, an
// unsafe path, a wrong digest) is an error matching ErrInvalid that names its key.
func (r *Registry) Manifest(ctx context.Context, name string, version int) (*Manifest, error) {
	key := manifestKey(name, version)
	data, err := r.readRecord(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s@%d does not exist; run 'mlops ls %s' to see its versions", ErrNotFound, name, version, name)
	}
	if err != nil {
		return nil, err
	}
	m, err := decodeManifest(data)
	if err == nil && (m.Name != name || m.Version != version) {
		err = fmt.Errorf("%w: the manifest claims to be %s@%d", ErrInvalid, m.Name, m.Version)
	}
	if errors.Is(err, errNewerSchema) {
		return nil, fmt.Errorf("manifest %s cannot be used: %w", key, err)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest %s cannot be used: %w; remove the version with 'mlops rm %s@%d'", key, err, name, version)
	}
	return m, nil
}

// Skipped is a record a listing left out because it cannot be read: the listing goes on without
// it, and the caller shows the reason.
type Skipped struct {
	Key     string `json:"key"` // relative to the registry URL
	Name    string `json:"name"`
	Version int    `json:"version"`
	Error   string `json:"error"`
}

// manifests reads the manifests of the given versions of name, leaving out (and returning as
// skipped) those that cannot be used and those removed meanwhile.
func (r *Registry) manifests(ctx context.Context, name string, versions []int) ([]*Manifest, []Skipped, error) {
	var out []*Manifest
	var skipped []Skipped
	for _, v := range versions {
		m, err := r.Manifest(ctx, name, v)
		switch {
		case errors.Is(err, ErrNotFound):
			continue // removed between list and read
		case errors.Is(err, ErrInvalid):
			skipped = append(skipped, Skipped{Key: manifestKey(name, v), Name: name, Version: v, Error: err.Error()})
			continue
		case err != nil:
			return nil, nil, err
		}
		out = append(out, m)
	}
	return out, skipped, nil
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

// Models lists the models that have at least one readable version. Manifests that cannot be
// used are left out and returned as skipped, so one bad record does not hide the registry.
func (r *Registry) Models(ctx context.Context) ([]ModelSummary, []Skipped, error) {
	var names []string
	it := r.bucket.List(&blob.ListOptions{Prefix: "models/", Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("list models: %w", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, "models/"), "/")
		if obj.IsDir && ValidateName(name) == nil {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var out []ModelSummary
	var skipped []Skipped
	for _, name := range names {
		live, _, err := r.versionNumbers(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		ms, bad, err := r.manifests(ctx, name, live)
		if err != nil {
			return nil, nil, err
		}
		skipped = append(skipped, bad...)
		if len(ms) == 0 {
			continue
		}
		aliases, err := r.aliasMap(ctx, name)
		if err != nil {
			return nil, nil, err
		}
		latest := ms[len(ms)-1]
		out = append(out, ModelSummary{Name: name, Versions: len(ms), Latest: latest.Version, Updated: latest.Created, Aliases: aliases})
	}
	return out, skipped, nil
}

// VersionSummary is one row of `mlops ls NAME`: the manifest plus the aliases pointing to it.
type VersionSummary struct {
	*Manifest
	Aliases []string `json:"aliases"`
}

// Versions lists every readable version of name, oldest first; manifests that cannot be used are
// returned as skipped.
func (r *Registry) Versions(ctx context.Context, name string) ([]VersionSummary, []Skipped, error) {
	if err := ValidateName(name); err != nil {
		return nil, nil, err
	}
	live, _, err := r.versionNumbers(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if len(live) == 0 {
		return nil, nil, fmt.Errorf("%w: model %q is not in the registry %s; run 'mlops ls' to see the models", ErrNotFound, name, r.url)
	}
	aliases, err := r.aliasMap(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	byVersion := map[int][]string{}
	for a, v := range aliases {
		byVersion[v] = append(byVersion[v], a)
	}
	ms, skipped, err := r.manifests(ctx, name, live)
	if err != nil {
		return nil, nil, err
	}
	out := make([]VersionSummary, 0, len(ms))
	for _, m := range ms {
		as := byVersion[m.Version]
		sort.Strings(as)
		if as == nil {
			as = []string{}
		}
		out = append(out, VersionSummary{Manifest: m, Aliases: as})
	}
	return out, skipped, nil
}
