// Package emulators starts the storage emulators integration tests run against on 127.0.0.1:
// MinIO (S3), Azurite (Azure Blob) and fake-gcs-server (GCS). They are installed (pinned,
// idempotently) by scripts/services/install.sh and required unless MLOPS_SKIP_EMULATORS=1.
// Each one lives until the test ends, holds a bucket or container "models", and the test's
// environment gets the credentials the cloud SDKs read. Only _test.go files import it.
package emulators

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlops-dev/mlops/internal/testutil"
)

// Credentials of the emulators (public development values, never secrets).
const (
	azuriteAccount = "devstoreaccount1"
	// Azurite's documented, public development key.
	azuriteKey    = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	MinIOUser     = "mlopsadmin"
	MinIOPassword = "mlopsadmin-secret"
)

func repoRoot(t testing.TB) string { return testutil.RepoFile(t, "") }

// Require installs tool (minio, azurite, fakegcs) if needed, or skips with MLOPS_SKIP_EMULATORS=1
// or go test -short.
func Require(t testing.TB, tool string) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no emulators")
	}
	if os.Getenv("MLOPS_SKIP_EMULATORS") == "1" {
		t.Skip("MLOPS_SKIP_EMULATORS=1")
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "scripts", "services", "install.sh"), tool)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot install the %s emulator (set MLOPS_SKIP_EMULATORS=1 to skip backend tests): %v\n%s", tool, err, out)
	}
}

// FreePort returns a free TCP port on 127.0.0.1.
func FreePort(t testing.TB) int {
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
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
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

// StartMinIO runs MinIO with bucket models; url is the registry URL s3://models/registry?...
// (swap the path for another prefix), restart starts the server again after cmd was killed.
func StartMinIO(t testing.TB) (url string, cmd *exec.Cmd, restart func() *exec.Cmd) {
	Require(t, "minio")
	port, cport := FreePort(t), FreePort(t)
	dir := t.TempDir()
	env := []string{"MINIO_ROOT_USER=" + MinIOUser, "MINIO_ROOT_PASSWORD=" + MinIOPassword, "MINIO_BROWSER=off"}
	bin := filepath.Join(repoRoot(t), ".deps", "bin", "minio")
	args := []string{"server", "--quiet", "--address", fmt.Sprintf("127.0.0.1:%d", port), "--console-address", fmt.Sprintf("127.0.0.1:%d", cport), dir}
	start := func() *exec.Cmd {
		c := startServer(t, port, env, bin, args...)
		waitS3Ready(t, port)
		return c
	}
	cmd = start()
	t.Setenv("AWS_ACCESS_KEY_ID", MinIOUser)
	t.Setenv("AWS_SECRET_ACCESS_KEY", MinIOPassword)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(MinIOUser, MinIOPassword, "")))
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

// StartAzurite runs Azurite with container models and returns azblob://models/registry?...
func StartAzurite(t testing.TB) string {
	Require(t, "azurite")
	port := FreePort(t)
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

// StartFakeGCS runs fake-gcs-server with bucket models and returns gs://models/registry.
func StartFakeGCS(t testing.TB) string {
	Require(t, "fakegcs")
	port := FreePort(t)
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
