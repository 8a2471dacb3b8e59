package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"gocloud.dev/gcerrors"
)

// RemoveResult reports what Remove deleted.
type RemoveResult struct {
	Name         string `json:"name"`
	Version      int    `json:"version"`
	DeletedBlobs int    `json:"deleted_blobs"`
	FreedBytes   int64  `json:"freed_bytes"`
	// ManifestUnreadable: the version's manifest was damaged; only the blobs it still names
	// legibly (and no other version uses) were deleted.
	ManifestUnreadable bool `json:"manifest_unreadable,omitempty"`
	// InHistoryOf lists the aliases whose history still named the version (removed with
	// Force); a rollback of them passes over it.
	InHistoryOf []string `json:"in_history_of,omitempty"`
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	// Force removes a version that an alias's history still names (a rollback would return to
	// it); the rollback then passes over it. The version an alias points to now is never removed.
	Force bool
}

// Remove deletes name@version. It is refused while an alias points to the version, and while an
// alias's history names it (unless opts.Force), since rollback would go back to it. A version
// whose manifest is damaged can be removed too. A tombstone keeps the number from being reused;
// blobs no other version references are deleted.
//
// Known limit: a push running at the same time that reuses one of those blobs may find it
// deleted; pull then fails with a not-found error and pushing again repairs it.
func (r *Registry) Remove(ctx context.Context, name string, version int, opts RemoveOptions) (*RemoveResult, error) {
	res := &RemoveResult{Name: name, Version: version}
	var files []File
	m, err := r.Manifest(ctx, name, version)
	switch {
	case err == nil:
		files = m.Files
	case errors.Is(err, ErrInvalid) && !errors.Is(err, errNewerSchema):
		res.ManifestUnreadable = true
		files = r.legibleFiles(ctx, manifestKey(name, version))
	default:
		return nil, err
	}
	states, err := r.aliasStates(ctx, name)
	if err != nil {
		return nil, err
	}
	var current, history []string
	for a, st := range states {
		if st.Version == version {
			current = append(current, a)
		} else if slices.Contains(st.stack, version) {
			history = append(history, a)
		}
	}
	sort.Strings(current)
	sort.Strings(history)
	if len(current) > 0 {
		return nil, fmt.Errorf("%w: %s@%d is the target of alias %s; promote another version to it first ('mlops promote %s@N --alias %s')",
			ErrInUse, name, version, strings.Join(current, ", "), name, current[0])
	}
	if len(history) > 0 && !opts.Force {
		return nil, fmt.Errorf("%w: %s@%d is in the history of alias %s: 'mlops rollback %s --alias %s' would go back to it; pass --force to remove it anyway (rollback then passes over it)",
			ErrInUse, name, version, strings.Join(history, ", "), name, history[0])
	}
	res.InHistoryOf = history
	if err := r.createRecord(ctx, tombstoneKey(name, version), map[string]any{"removed": r.opts.Now().UTC()}); err != nil && !errors.Is(err, errExists) {
		return nil, err
	}
	if err := r.bucket.Delete(ctx, manifestKey(name, version)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return nil, fmt.Errorf("remove %s@%d: %w", name, version, err)
	}
	used, err := r.referencedBlobs(ctx)
	if err != nil {
		return res, fmt.Errorf("%s@%d removed, but its files were left in place: %w", name, version, err)
	}
	for _, f := range files {
		if used[f.SHA256] {
			continue
		}
		err := r.bucket.Delete(ctx, blobKey(f.SHA256))
		if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return res, fmt.Errorf("%s@%d removed, but deleting its file %s failed: %w", name, version, f.Path, err)
		}
		used[f.SHA256] = true // the same blob may appear twice in one manifest
		res.DeletedBlobs++
		res.FreedBytes += f.Size
	}
	return res, nil
}

// legibleFiles reads what can still be read of a damaged manifest: the files whose digest is
// well formed. Nothing, when it is not JSON at all.
func (r *Registry) legibleFiles(ctx context.Context, key string) []File {
	data, err := r.readRecord(ctx, key)
	if err != nil {
		return nil
	}
	var m struct {
		Files []File `json:"files"`
	}
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	return slices.DeleteFunc(m.Files, func(f File) bool { return !validDigest(f.SHA256) || f.Size < 0 })
}

// referencedBlobs returns the digests referenced by every live manifest in the registry.
func (r *Registry) referencedBlobs(ctx context.Context) (map[string]bool, error) {
	keys, err := r.listKeys(ctx, "models/")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") || !strings.Contains(k, "/versions/") {
			continue
		}
		data, err := r.readRecord(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var m struct {
			Files []File `json:"files"`
		}
		if json.Unmarshal(data, &m) != nil {
			// Not JSON: no version can be pulled from it, so it keeps no blob alive.
			continue
		}
		for _, f := range m.Files {
			used[f.SHA256] = true
		}
	}
	return used, nil
}
