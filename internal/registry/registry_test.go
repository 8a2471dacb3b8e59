package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
)

func TestPushPullExternalData(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	src := t.TempDir()
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 1000) // spans several 1 KiB parts
	model := writeModel(t, src, "m.onnx", data)

	var uploaded int64
	m, err := r.Push(ctx, model, "fmnist", PushOptions{
		Aliases:  []string{"staging"},
		Metadata: map[string]string{"team": "vision"},
		Metrics:  map[string]float64{"accuracy": 0.87},
		Message:  "first",
		Lineage:  &Lineage{Parent: "base@1", Transformation: "quantize", Options: map[string]string{"mode": "dynamic"}},
		Progress: func(p Progress) {
			if p.Op == "upload" {
				uploaded = max(uploaded, p.Done)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || len(m.Files) != 2 || m.Files[1].Path != "m.onnx.data" || m.Files[1].Size != int64(len(data)) {
		t.Fatalf("manifest %+v", m)
	}
	if uploaded != int64(len(data)) {
		t.Errorf("progress reported %d bytes uploaded for the data file, want %d", uploaded, len(data))
	}
	in := m.Signature.Inputs
	if len(in) != 1 || in[0].Name != "x" || in[0].DataType != "FLOAT" || fmt.Sprint(in[0].Shape) != "[-1 4]" || in[0].DimNames[0] != "batch" {
		t.Fatalf("signature inputs %+v (initializer w must not be listed)", in)
	}

	dest := t.TempDir()
	for _, ref := range []string{"fmnist", "fmnist@1", "fmnist@staging"} {
		out := filepath.Join(dest, strings.ReplaceAll(ref, "@", "_"), "model.onnx")
		got, path, err := r.Pull(ctx, mustRef(t, ref), out, PullOptions{})
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		if got.Version != 1 || path != out {
			t.Fatalf("pull %s: version %d at %s", ref, got.Version, path)
		}
		sameFile(t, model, out)
		sameFile(t, filepath.Join(src, "m.onnx.data"), filepath.Join(filepath.Dir(out), "m.onnx.data"))
	}
	// Pulling into a directory keeps the stored file name.
	_, path, err := r.Pull(ctx, mustRef(t, "fmnist@1"), dest, PullOptions{})
	if err != nil || path != filepath.Join(dest, "m.onnx") {
		t.Fatalf("pull into dir: %s, %v", path, err)
	}
}

func TestPushDeduplicatesBlobs(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", make([]byte, 5000))
	var skipped int
	for i := 0; i < 2; i++ {
		m, err := r.Push(ctx, model, "dup", PushOptions{Progress: func(p Progress) {
			if p.Op == "skip" {
				skipped++
			}
		}})
		if err != nil || m.Version != i+1 {
			t.Fatalf("push %d: version %v, %v", i, m, err)
		}
	}
	blobs, err := r.listKeys(ctx, "blobs/")
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 2 || skipped != 2 {
		t.Fatalf("2 identical pushes stored %d blobs and skipped %d uploads; want 2 and 2", len(blobs), skipped)
	}
}

// A stored blob that no longer matches its digest (same size with other bytes, shorter, longer)
// is uploaded again by the next push instead of being reused, so pushing again repairs every
// version that names it, as pull's error message says.
func TestPushRepairsDamagedBlob(t *testing.T) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 700) // several 1 KiB parts: the ranged read path
	for name, damage := range map[string]func([]byte) []byte{
		"flipped":   func(b []byte) []byte { c := bytes.Clone(b); c[3000] ^= 1; return c },
		"truncated": func(b []byte) []byte { return b[:len(b)-1] },
		"longer":    func(b []byte) []byte { return append(bytes.Clone(b), 'x') },
		"missing":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			r := memRegistry(t)
			model := writeModel(t, t.TempDir(), "m.onnx", data)
			m1, err := r.Push(ctx, model, "m", PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			key := blobKey(m1.Files[1].SHA256)
			if damage == nil {
				err = r.bucket.Delete(ctx, key)
			} else {
				err = r.bucket.WriteAll(ctx, key, damage(data), nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := r.Pull(ctx, m1.Ref(), filepath.Join(t.TempDir(), "m.onnx"), PullOptions{}); err == nil {
				t.Fatal("pull of a damaged blob succeeded")
			}
			var ops []string
			m2, err := r.Push(ctx, model, "m", PushOptions{Progress: func(p Progress) {
				if p.File == "m.onnx.data" && (len(ops) == 0 || ops[len(ops)-1] != p.Op) {
					ops = append(ops, p.Op)
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(ops, "upload") || slices.Contains(ops, "skip") {
				t.Fatalf("data file ops %v: the damaged blob must be uploaded again", ops)
			}
			for _, ref := range []Ref{m1.Ref(), m2.Ref()} {
				out := filepath.Join(t.TempDir(), "m.onnx")
				if _, _, err := r.Pull(ctx, ref, out, PullOptions{}); err != nil {
					t.Fatalf("pull %s after the repair: %v", ref, err)
				}
				sameFile(t, model+".data", out+".data")
			}
		})
	}
}

func TestPromoteRollback(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", nil)
	for i := 0; i < 3; i++ {
		if _, err := r.Push(ctx, model, "m", PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []int{1, 2, 3} {
		if _, err := r.Promote(ctx, "m", v, "production"); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []int{2, 1} {
		st, err := r.Rollback(ctx, "m", "production")
		if err != nil || st.Version != want {
			t.Fatalf("rollback: %+v, %v; want version %d", st, err, want)
		}
	}
	if _, err := r.Rollback(ctx, "m", "production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback past the first promotion: %v, want ErrNotFound", err)
	}
	st, err := r.Alias(ctx, "m", "production")
	if err != nil || st.Version != 1 || len(st.History) != 5 {
		t.Fatalf("alias state %+v, %v", st, err)
	}
	if _, err := r.Rollback(ctx, "m", "nosuch"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback of unknown alias: %v", err)
	}
	if _, err := r.Promote(ctx, "m", 9, "production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("promote unknown version: %v", err)
	}
	vs, _, err := r.Versions(ctx, "m")
	if err != nil || len(vs) != 3 || fmt.Sprint(vs[0].Aliases) != "[production]" || len(vs[2].Aliases) != 0 {
		t.Fatalf("versions %+v, %v", vs, err)
	}
	models, _, err := r.Models(ctx)
	if err != nil || len(models) != 1 || models[0].Latest != 3 || models[0].Aliases["production"] != 1 {
		t.Fatalf("models %+v, %v", models, err)
	}
}

func TestRemove(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	dir := t.TempDir()
	a := writeModel(t, dir, "a.onnx", []byte("aaaaaaaa"))
	b := writeModel(t, t.TempDir(), "a.onnx", []byte("bbbbbbbb")) // same model file name, other data
	for _, p := range []string{a, b, a} {
		if _, err := r.Push(ctx, p, "m", PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Promote(ctx, "m", 2, "prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Remove(ctx, "m", 2, RemoveOptions{Force: true}); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "target of alias prod") {
		t.Fatalf("remove aliased version: %v, want ErrInUse naming the alias, even with Force", err)
	}
	res, err := r.Remove(ctx, "m", 3, RemoveOptions{}) // shares every blob with version 1
	if err != nil || res.DeletedBlobs != 0 {
		t.Fatalf("remove 3: %+v, %v", res, err)
	}
	if _, err := r.Promote(ctx, "m", 1, "prod"); err != nil {
		t.Fatal(err)
	}
	// prod's history still names 2 (rollback would return to it): refused without Force.
	if _, err := r.Remove(ctx, "m", 2, RemoveOptions{}); !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "history of alias prod") {
		t.Fatalf("remove a version in an alias's history: %v, want ErrInUse", err)
	}
	res, err = r.Remove(ctx, "m", 2, RemoveOptions{Force: true}) // its data blob is its own; the model proto is shared
	if err != nil || res.DeletedBlobs != 1 || res.FreedBytes != 8 || fmt.Sprint(res.InHistoryOf) != "[prod]" {
		t.Fatalf("remove 2: %+v, %v", res, err)
	}
	if _, err := r.Manifest(ctx, "m", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed version still readable: %v", err)
	}
	m, err := r.Push(ctx, a, "m", PushOptions{})
	if err != nil || m.Version != 4 {
		t.Fatalf("push after removing the latest version got %v, %v; numbers must not be reused", m, err)
	}
	if _, err := r.Remove(ctx, "m", 3, RemoveOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
}

func TestConcurrentPushesGetDistinctVersions(t *testing.T) {
	ctx := context.Background()
	// fileblob: a real filesystem with the same conditional-create semantics as the clouds.
	r, err := Open(ctx, "file://"+filepath.ToSlash(t.TempDir()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	const n = 8
	var wg sync.WaitGroup
	versions := make([]int, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		model := writeModel(t, t.TempDir(), "m.onnx", []byte(fmt.Sprintf("weights-%d", i)))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			m, err := r.Push(ctx, model, "race", PushOptions{Message: fmt.Sprint(i)})
			errs[i] = err
			if err == nil {
				versions[i] = m.Version
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Ints(versions)
	if fmt.Sprint(versions) != "[1 2 3 4 5 6 7 8]" {
		t.Fatalf("versions %v, want 1..8", versions)
	}
	vs, _, err := r.Versions(ctx, "race")
	if err != nil || len(vs) != n {
		t.Fatalf("ls shows %d versions, %v", len(vs), err)
	}
	msgs := map[string]bool{}
	for _, v := range vs {
		msgs[v.Message] = true
	}
	if len(msgs) != n {
		t.Fatalf("a push was lost: messages %v", msgs)
	}
}

func TestCorruptBlobFailsPull(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	data := bytes.Repeat([]byte("x"), 10_000)
	m, err := r.Push(ctx, writeModel(t, t.TempDir(), "m.onnx", data), "m", PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"flipped":   append(bytes.Repeat([]byte("x"), 9_999), 'y'),
		"truncated": data[:5000],
		"longer":    append(append([]byte{}, data...), 'z'),
	} {
		t.Run(name, func(t *testing.T) {
			if err := r.bucket.WriteAll(ctx, blobKey(m.Files[1].SHA256), bad, nil); err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			_, _, err := r.Pull(ctx, m.Ref(), filepath.Join(dest, "out.onnx"), PullOptions{})
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("pull of a corrupted blob: %v, want ErrChecksum", err)
			}
			if ents, _ := os.ReadDir(dest); len(ents) != 0 {
				t.Fatalf("failed pull left %v in the destination", ents)
			}
		})
	}
}

func TestCancelledPushLeavesNoVersion(t *testing.T) {
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", make([]byte, 64<<10))
	ctx, cancel := context.WithCancel(context.Background())
	_, err := r.Push(ctx, model, "m", PushOptions{Progress: func(p Progress) {
		if p.Op == "upload" && p.Done > 4<<10 {
			cancel() // Ctrl-C in the middle of the data file
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled push: %v", err)
	}
	if _, err := r.Resolve(context.Background(), Ref{Name: "m"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a cancelled push left a visible version: %v", err)
	}
	if keys, _ := r.listKeys(context.Background(), "blobs/"); len(keys) > 1 {
		t.Fatalf("partial data blob is visible: %v", keys)
	}
	m, err := r.Push(context.Background(), model, "m", PushOptions{})
	if err != nil || m.Version != 1 {
		t.Fatalf("retry after cancel: %v, %v", m, err)
	}
}

func TestResolveModel(t *testing.T) {
	ctx := context.Background()
	r := memRegistry(t)
	model := writeModel(t, t.TempDir(), "m.onnx", []byte("weights"))
	if _, err := r.Push(ctx, model, "m", PushOptions{Aliases: []string{"prod"}}); err != nil {
		t.Fatal(err)
	}
	p, info, err := ResolveModel(ctx, r, model, t.TempDir())
	if err != nil || p != model || info != nil {
		t.Fatalf("local file: %s %v %v", p, info, err)
	}
	cache := t.TempDir()
	p1, info, err := ResolveModel(ctx, r, "m@prod", cache)
	if err != nil || info.Version != 1 {
		t.Fatal(err)
	}
	sameFile(t, model, p1)
	if err := r.bucket.Delete(ctx, blobKey(info.Files[0].SHA256)); err != nil {
		t.Fatal(err)
	}
	p2, _, err := ResolveModel(ctx, r, "m@1", cache) // served from the cache: the blob is gone
	if err != nil || p2 != p1 {
		t.Fatalf("cached resolve: %s, %v", p2, err)
	}
	if _, _, err := ResolveModel(ctx, r, "nosuch@prod", cache); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
	// A missing file is named as one, never through a registry name rule.
	if _, _, err := ResolveModel(ctx, nil, "../x.onnx", cache); !errors.Is(err, fs.ErrNotExist) || err.Error() != "../x.onnx: no such file" {
		t.Fatalf("missing path-like argument: %v", err)
	}
	if _, _, err := ResolveModel(ctx, r, "x.onnx", cache); !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "x.onnx: no such file (and the registry ") {
		t.Fatalf("missing x.onnx, which could be a registry name: %v", err)
	}
}

func mustRef(t testing.TB, s string) Ref {
	t.Helper()
	r, err := ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
