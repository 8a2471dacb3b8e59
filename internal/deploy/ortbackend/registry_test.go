package ortbackend

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/deploy/engine"
	"github.com/mlops-dev/mlops/internal/registry"
	"github.com/mlops-dev/mlops/internal/runtime"
)

// TestPollFollowsRegistryAlias serves fmnist@production from a file://
// registry and promotes a new version: the poll loads it, and the version
// label is the registry version number.
func TestPollFollowsRegistryAlias(t *testing.T) {
	rt := openRuntime(t)
	dir := t.TempDir()
	ctx := context.Background()
	reg, err := registry.Open(ctx, "file://"+filepath.Join(dir, "registry"), registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	v1 := filepath.Join(dir, "v1.onnx")
	newVersionOf(t, mlpPath, v1, 1)
	if _, err := reg.Push(ctx, v1, "fmnist", registry.PushOptions{Aliases: []string{"production"}}); err != nil {
		t.Fatal(err)
	}
	l := &Loader{Runtime: rt, Session: runtime.SessionOptions{IntraOpThreads: 1}, Registry: reg, CacheDir: filepath.Join(dir, "cache")}
	eng := engine.New(l, engine.Options{Instances: 1, MaxBatchSize: 8})
	defer eng.Close()
	if err := eng.Add(ctx, engine.Spec{Name: "fmnist", Ref: "fmnist@production"}); err != nil {
		t.Fatal(err)
	}
	if vs, _ := eng.Versions("fmnist"); len(vs) != 1 || vs[0] != "1" {
		t.Fatalf("versions %v, want [1]", vs)
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go eng.Poll(pctx, 50*time.Millisecond)

	v2 := filepath.Join(dir, "v2.onnx")
	newVersionOf(t, mlpPath, v2, 2)
	if _, err := reg.Push(ctx, v2, "fmnist", registry.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if vs, _ := eng.Versions("fmnist"); vs[0] != "1" {
		t.Fatalf("pushing without promoting changed the served version to %v", vs)
	}
	if _, err := reg.Promote(ctx, "fmnist", 2, "production"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if vs, _ := eng.Versions("fmnist"); vs[0] == "2" {
			return
		}
	}
	t.Fatal("poll did not follow the production alias to version 2")
}
