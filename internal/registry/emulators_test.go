package registry

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/testutil/emulators"
)

func TestBackendS3MinIO(t *testing.T) {
	url, _, _ := emulators.StartMinIO(t)
	backendScenario(t, url)
	// An independent client reads what mlops wrote.
	boto3CrossCheck(t, url)
	if _, err := Open(context.Background(), strings.Replace(url, "s3://models", "s3://nosuchbucket", 1), Options{}); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing bucket: %v", err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	if _, err := Open(context.Background(), url, Options{}); err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong credentials: %v (must fail without echoing the secret)", err)
	}
}

func TestBackendAzurite(t *testing.T) { backendScenario(t, emulators.StartAzurite(t)) }

func TestBackendFakeGCS(t *testing.T) { backendScenario(t, emulators.StartFakeGCS(t)) }

// backendScenario runs push/pull/ls/promote/rollback/rm, concurrent pushes and a corrupted
// blob against one backend.
func backendScenario(t *testing.T, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := Open(ctx, url, Options{PartSize: 5 << 20, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data := make([]byte, 12<<20) // three 5 MiB parts: a real multipart upload on S3
	for i := range data {
		data[i] = byte(i * 7)
	}
	src := t.TempDir()
	model := writeModel(t, src, "m.onnx", data)
	m1, err := r.Push(ctx, model, "fmnist", PushOptions{Aliases: []string{"production"}, Message: "one"})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	// Other weights of the same size: the model file is the same blob, the data is new.
	data2 := slices.Clone(data)
	data2[0] ^= 0xff
	model2 := writeModel(t, t.TempDir(), "m.onnx", data2)
	m2, err := r.Push(ctx, model2, "fmnist", PushOptions{Message: "two"})
	if err != nil || m2.Version != 2 {
		t.Fatalf("push 2: %v %v", m2, err)
	}
	out := filepath.Join(t.TempDir(), "pulled", "model.onnx")
	if _, _, err := r.Pull(ctx, Ref{Name: "fmnist", Alias: "production"}, out, PullOptions{}); err != nil {
		t.Fatalf("pull: %v", err)
	}
	sameFile(t, model, out)
	sameFile(t, model+".data", filepath.Join(filepath.Dir(out), "m.onnx.data"))
	if _, err := r.Promote(ctx, "fmnist", 2, "production"); err != nil {
		t.Fatal(err)
	}
	if st, err := r.Rollback(ctx, "fmnist", "production"); err != nil || st.Version != m1.Version {
		t.Fatalf("rollback: %+v %v", st, err)
	}
	if _, err := r.Remove(ctx, "fmnist", 1, RemoveOptions{}); err == nil {
		t.Fatal("rm of the production version must be refused")
	}
	if res, err := r.Remove(ctx, "fmnist", 2, RemoveOptions{}); err != nil || res.DeletedBlobs != 1 {
		t.Fatalf("rm 2: %+v %v", res, err)
	}
	if vs, _, err := r.Versions(ctx, "fmnist"); err != nil || len(vs) != 1 {
		t.Fatalf("ls after rm: %d versions, %v", len(vs), err)
	}

	// 8 concurrent pushes of one name get 8 distinct versions.
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		p := writeModel(t, t.TempDir(), "c.onnx", []byte(fmt.Sprintf("w%d", i)))
		go func() { _, err := r.Push(ctx, p, "race", PushOptions{}); errs <- err }()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent push: %v", err)
		}
	}
	if vs, _, err := r.Versions(ctx, "race"); err != nil || len(vs) != 8 || vs[7].Version != 8 {
		t.Fatalf("8 concurrent pushes: %d versions, %v", len(vs), err)
	}

	// A blob damaged behind mlops' back fails the pull with a checksum error.
	if err := r.bucket.WriteAll(ctx, blobKey(m1.Files[1].SHA256), data[:len(data)-1], nil); err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	if _, _, err := r.Pull(ctx, m1.Ref(), filepath.Join(dest, "x.onnx"), PullOptions{}); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("pull of a damaged blob: %v", err)
	}
	if ents, _ := os.ReadDir(dest); len(ents) != 0 {
		t.Fatalf("failed pull left files: %v", ents)
	}
	// Pushing the model again repairs it, as the pull error says: the damaged blob (its key
	// exists) is read back, found wrong and uploaded again, so the old version pulls again too.
	repaired := false
	m3, err := r.Push(ctx, model, "fmnist", PushOptions{Progress: func(p Progress) { repaired = repaired || p.Op == "repair" }})
	if err != nil || !repaired {
		t.Fatalf("push over a damaged blob: repaired %v, %v", repaired, err)
	}
	for _, ref := range []Ref{m1.Ref(), m3.Ref()} {
		out := filepath.Join(t.TempDir(), "x.onnx")
		if _, _, err := r.Pull(ctx, ref, out, PullOptions{}); err != nil {
			t.Fatalf("pull %s after the repair: %v", ref, err)
		}
		sameFile(t, model+".data", filepath.Join(filepath.Dir(out), "m.onnx.data"))
	}
}

func boto3CrossCheck(t *testing.T, url string) {
	endpoint := url[strings.Index(url, "endpoint=")+len("endpoint="):]
	script := `
import boto3, json, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="models", Prefix="registry/models/fmnist/versions/")["Contents"]]
m = json.loads(s3.get_object(Bucket="models", Key="registry/models/fmnist/versions/1.json")["Body"].read())
import hashlib
f = m["files"][0]
body = s3.get_object(Bucket="models", Key="registry/blobs/sha256/" + f["sha256"])["Body"].read()
assert hashlib.sha256(body).hexdigest() == f["sha256"], "digest"
print(json.dumps({"keys": keys, "name": m["name"], "version": m["version"]}))
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, endpoint).CombinedOutput()
	if err != nil {
		t.Fatalf("boto3 cross-check: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"name": "fmnist"`) || !strings.Contains(string(out), "versions/1.json") {
		t.Fatalf("boto3 saw %s", out)
	}
}
