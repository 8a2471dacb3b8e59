package registry

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Integration tests against real storage protocols on 127.0.0.1. The emulators are installed
// (pinned, idempotently) by scripts/services/install.sh and started here; they are required
// unless MLOPS_SKIP_EMULATORS=1.

const (
	azuriteAccount = "devstoreaccount1"
	// Azurite's documented, public development key.
	azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	minioUser  = "mlopsadmin"
	minioPass  = "mlopsadmin-secret"
)

func repoRoot(t testing.TB) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func needEmulator(t testing.TB, tool string) {
	t.Helper()
	if os.Getenv("MLOPS_SKIP_EMULATORS") == "1" {
		t.Skip("MLOPS_SKIP_EMULATORS=1")
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "services", "install.sh"), tool)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot install the %s emulator (set MLOPS_SKIP_EMULATORS=1 to skip backend tests): %v\n%s", tool, err, out)
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs an emulator until the test ends and waits for its port.
func startServer(t testing.TB, port int, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond); err == nil {
			c.Close()
			return cmd
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(logf.Name())
	t.Fatalf("%s did not listen on %d within 60s:\n%s", name, port, log)
	return nil
}

func startMinIO(t testing.TB) (url string, cmd *exec.Cmd, restart func() *exec.Cmd) {
	needEmulator(t, "minio")
	port, cport := freePort(t), freePort(t)
	dir := t.TempDir()
	env := []string{"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioPass, "MINIO_BROWSER=off"}
	bin := filepath.Join(repoRoot(t), ".deps", "bin", "minio")
	args := []string{"server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port), "--console-address", fmt.Sprintf("127.0.0.1:%d", cport), dir}
	start := func() *exec.Cmd {
		c := startServer(t, port, env, bin, args...)
		waitS3Ready(t, port)
		return c
	}
	cmd = start()
	t.Setenv("AWS_ACCESS_KEY_ID", minioUser)
	t.Setenv("AWS_SECRET_ACCESS_KEY", minioPass)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(minioUser, minioPass, "")))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("models")}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return "s3://models/registry?region=us-east-1&use_path_style=true&endpoint=" + endpoint, cmd, start
}

// waitS3Ready waits until MinIO answers its liveness probe (it listens before it is ready).
func waitS3Ready(t testing.TB, port int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := exec.Command("curl", "-sf", "-o", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d/minio/health/ready", port)).CombinedOutput()
		if err == nil {
			return
		}
		_ = out
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("MinIO not ready within 60s")
}

func startAzurite(t *testing.T) string {
	needEmulator(t, "azurite")
	port := freePort(t)
	bin := filepath.Join(repoRoot(t), ".deps", "azurite", "node_modules", ".bin", "azurite-blob")
	startServer(t, port, nil, bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
		"--location", t.TempDir(), "--skipApiVersionCheck", "--loose", "--silent")
	t.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://127.0.0.1:%d/%s", port, azuriteAccount), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateContainer(context.Background(), "models", nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return fmt.Sprintf("azblob://models/registry?localemu=true&protocol=http&domain=127.0.0.1:%d", port)
}

func startFakeGCS(t *testing.T) string {
	needEmulator(t, "fakegcs")
	port := freePort(t)
	data := t.TempDir()
	if err := os.Mkdir(filepath.Join(data, "models"), 0o755); err != nil { // a folder here is a bucket
		t.Fatal(err)
	}
	startServer(t, port, nil, filepath.Join(repoRoot(t), ".deps", "bin", "fake-gcs-server"),
		"-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port), "-backend", "memory",
		"-data", data, "-public-host", fmt.Sprintf("127.0.0.1:%d", port), "-log-level", "error")
	t.Setenv("STORAGE_EMULATOR_HOST", fmt.Sprintf("127.0.0.1:%d", port))
	return "gs://models/registry"
}

func TestBackendS3MinIO(t *testing.T) {
	url, _, _ := startMinIO(t)
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

func TestBackendAzurite(t *testing.T) { backendScenario(t, startAzurite(t)) }

func TestBackendFakeGCS(t *testing.T) { backendScenario(t, startFakeGCS(t)) }

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
	model2 := writeModel(t, t.TempDir(), "m.onnx", data[:1<<20])
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
