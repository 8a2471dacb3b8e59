package registry

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// One manifest that cannot be used (not JSON, a path with ../) used to break ls, ls NAME, pull
// NAME and rm NAME@N with an error that named no file. Listings now leave it out and report its
// key, every other version still pulls and removes, and rm removes the bad one.
func TestDamagedManifestIsLeftOut(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", []byte("0123456789abcdef"))
	for i := 0; i < 3; i++ {
		if _, err := r.Push(ctx, model, "m", PushOptions{Message: fmt.Sprint(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Push(ctx, model, "other", PushOptions{}); err != nil {
		t.Fatal(err)
	}
	write := func(key, body string) {
		if err := r.bucket.WriteAll(ctx, key, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	write(manifestKey("m", 2), "{not json")
	escape := `{"schema_version":1,"name":"other","version":1,"size":1,"files":[{"path":"../../etc/passwd","sha256":"` +
		strings.Repeat("a", 64) + `","size":1,"role":"model"}]}`
	write(manifestKey("other", 1), escape)

	models, skipped, err := r.Models(ctx)
	if err != nil {
		t.Fatalf("ls: %v", err)
	}
	if len(models) != 1 || models[0].Name != "m" || models[0].Versions != 2 || models[0].Latest != 3 {
		t.Fatalf("ls: %+v", models)
	}
	if len(skipped) != 2 || skipped[0].Key != "models/m/versions/2.json" || skipped[1].Key != "models/other/versions/1.json" ||
		!strings.Contains(skipped[0].Error, "not valid JSON") || !strings.Contains(skipped[1].Error, `"../../etc/passwd"`) ||
		!strings.Contains(skipped[0].Error, "mlops rm m@2") {
		t.Fatalf("ls skipped %+v", skipped)
	}
	vs, skipped, err := r.Versions(ctx, "m")
	if err != nil || len(vs) != 2 || vs[0].Version != 1 || vs[1].Version != 3 || len(skipped) != 1 || skipped[0].Version != 2 {
		t.Fatalf("ls m: %+v %+v %v", vs, skipped, err)
	}
	if _, err := r.Resolve(ctx, Ref{Name: "m", Version: 2}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "models/m/versions/2.json") {
		t.Fatalf("pull m@2: %v, want an error naming the manifest", err)
	}
	for _, ref := range []Ref{{Name: "m"}, {Name: "m", Version: 1}} {
		if _, _, err := r.Pull(ctx, ref, filepath.Join(t.TempDir(), "m.onnx"), PullOptions{}); err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
	}
	// rm of a good version is not stopped by the bad manifests elsewhere.
	if _, err := r.Remove(ctx, "m", 1, RemoveOptions{}); err != nil {
		t.Fatalf("rm m@1: %v", err)
	}
	// The bad ones can be removed; the escaping one's blob names are read as far as they go.
	for _, ref := range []Ref{{Name: "m", Version: 2}, {Name: "other", Version: 1}} {
		res, err := r.Remove(ctx, ref.Name, ref.Version, RemoveOptions{})
		if err != nil || !res.ManifestUnreadable {
			t.Fatalf("rm %s: %+v %v", ref, res, err)
		}
	}
	if _, skipped, err := r.Models(ctx); err != nil || len(skipped) != 0 {
		t.Fatalf("ls after rm: %+v %v", skipped, err)
	}
	// The latest version damaged: pull NAME names it instead of failing vaguely.
	write(manifestKey("m", 3), "[]")
	if _, _, err := r.Pull(ctx, Ref{Name: "m"}, t.TempDir(), PullOptions{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "models/m/versions/3.json") {
		t.Fatalf("pull of a damaged latest version: %v", err)
	}
	// A manifest of a newer format is not damaged: it is left out with "upgrade", never offered
	// for removal, and rm refuses it.
	write(manifestKey("m", 3), `{"schema_version":2,"name":"m","version":3}`)
	if _, skipped, _ := r.Versions(ctx, "m"); len(skipped) != 1 || !strings.Contains(skipped[0].Error, "upgrade mlops") || strings.Contains(skipped[0].Error, "mlops rm") {
		t.Fatalf("newer manifest: %+v", skipped)
	}
	if _, err := r.Remove(ctx, "m", 3, RemoveOptions{}); err == nil {
		t.Fatal("rm removed a manifest of a newer format")
	}
}

// rm used to delete a version an alias's history still named, and rollback then failed forever.
// It is refused now; with Force it goes, and rollback passes over it and records that.
func TestRollbackPassesOverRemovedVersions(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	for i := 0; i < 4; i++ {
		model := writeModel(t, t.TempDir(), "m.onnx", []byte(fmt.Sprintf("weights-%d", i)))
		if _, err := r.Push(ctx, model, "m", PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []int{1, 2, 3, 4} {
		if _, err := r.Promote(ctx, "m", v, "prod"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Remove(ctx, "m", 3, RemoveOptions{}); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("rm of a version in the history: %v", err)
	}
	for _, v := range []int{3, 2} {
		if res, err := r.Remove(ctx, "m", v, RemoveOptions{Force: true}); err != nil || fmt.Sprint(res.InHistoryOf) != "[prod]" {
			t.Fatalf("rm --force m@%d: %+v %v", v, res, err)
		}
	}
	st, err := r.Rollback(ctx, "m", "prod")
	if err != nil || st.Version != 1 {
		t.Fatalf("rollback over removed versions: %+v %v", st, err)
	}
	if ev := st.History[len(st.History)-1]; fmt.Sprint(ev.Skipped) != "[3 2]" || ev.Previous != 4 {
		t.Fatalf("rollback event %+v, want skipped [3 2]", ev)
	}
	// The recorded state replays the same way.
	if st, err := r.Alias(ctx, "m", "prod"); err != nil || st.Version != 1 {
		t.Fatalf("alias after replay: %+v %v", st, err)
	}
	if _, err := r.Rollback(ctx, "m", "prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback past the first promotion: %v", err)
	}
	// Nothing left to go back to: a clear error, no event.
	if _, err := r.Promote(ctx, "m", 4, "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Remove(ctx, "m", 1, RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	before, _ := r.Alias(ctx, "m", "prod")
	if _, err := r.Rollback(ctx, "m", "prod"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "version 1 was removed") {
		t.Fatalf("rollback with every earlier version removed: %v", err)
	}
	if after, _ := r.Alias(ctx, "m", "prod"); len(after.History) != len(before.History) || after.Version != 4 {
		t.Fatalf("a refused rollback changed the alias: %+v", after)
	}
}
