package tune

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mlops-dev/mlops/internal/testutil/emulators"
	"github.com/mlops-dev/mlops/internal/tune/journal"
)

// studyURL turns an emulator's registry URL into a journal URL under studies/.
func studyURL(registryURL, name string) string {
	i := strings.Index(registryURL, "/registry")
	return registryURL[:i] + "/studies/" + name + registryURL[i+len("/registry"):]
}

// TestFourWorkersOnMinIO: 4 processes share one journal on S3 (MinIO) for 500 trials, the
// segments claimed with conditional creates: none lost, none run twice.
func TestFourWorkersOnMinIO(t *testing.T) {
	u, _, _ := emulators.StartMinIO(t)
	sharedStudy(t, studyURL(u, "workers.jsonl"), 4, 500)
}

// TestWorkersOnAzuriteAndFakeGCS: the same on Azure Blob and GCS emulators, smaller.
func TestWorkersOnAzuriteAndFakeGCS(t *testing.T) {
	t.Run("azurite", func(t *testing.T) { sharedStudy(t, studyURL(emulators.StartAzurite(t), "w.jsonl"), 3, 60) })
	t.Run("fake-gcs", func(t *testing.T) { sharedStudy(t, studyURL(emulators.StartFakeGCS(t), "w.jsonl"), 3, 60) })
}

// TestBlobJournalWithoutWritePermission: a bucket that may be read but not written (anonymous
// access to a public-read bucket) gives a clear error at the first write, and the journal is
// left as it was.
func TestBlobJournalWithoutWritePermission(t *testing.T) {
	u, _, _ := emulators.StartMinIO(t)
	storage := studyURL(u, "ro.jsonl")
	spec := braninSpec(t, t.TempDir(), 5)
	spec.Storage = storage
	if _, err := run(t, spec, braninObjective, RunOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := loadJournal(t, storage)

	pu, _ := url.Parse(u)
	endpoint := pu.Query().Get("endpoint")
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(emulators.MinIOUser, emulators.MinIOPassword, "")))
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},` +
		`"Action":["s3:GetObject","s3:ListBucket","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::models","arn:aws:s3:::models/*"]}]}`
	if _, err := client.PutBucketPolicy(context.Background(), &s3.PutBucketPolicyInput{Bucket: aws.String("models"), Policy: aws.String(policy)}); err != nil {
		t.Fatal(err)
	}
	readOnly := storage + "&anonymous=true"
	spec.Storage, spec.Budget.Trials = readOnly, 10
	j, err := journal.Open(context.Background(), readOnly, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	r, err := NewRunner(context.Background(), spec, j, braninObjective, RunOptions{})
	if err == nil { // reading works: the study record is there; the first write fails
		_, err = r.Run(context.Background())
	}
	if !errors.Is(err, journal.ErrPermission) || !strings.Contains(err.Error(), "check the credentials and the bucket policy") {
		t.Fatalf("%v", err)
	}
	after, _ := loadJournal(t, storage)
	if len(after.Trials) != len(before.Trials) || after.Count() != before.Count() {
		t.Fatalf("journal changed: %+v → %+v", before.Count(), after.Count())
	}
}
