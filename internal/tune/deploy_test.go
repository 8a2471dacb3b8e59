package tune

import (
	"bytes"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlops-dev/mlops/internal/testutil"
)

// TestKubernetesJobManifest keeps deploy/kubernetes/tune-job.yaml working: an Indexed Job
// running `mlops tune run --worker` on the study in its ConfigMap, which is a valid study file
// with a blob-store journal.
func TestKubernetesJobManifest(t *testing.T) {
	data, err := os.ReadFile(testutil.RepoFile(t, "deploy/kubernetes/tune-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var study string
	var job struct {
		Kind string
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int
			Parallelism    int
			Template       struct {
				Spec struct {
					Containers []struct {
						Args []string
					}
				}
			}
		}
	}
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := yaml.Marshal(doc)
		switch doc["kind"] {
		case "ConfigMap":
			study = doc["data"].(map[string]any)["study.yaml"].(string)
		case "Job":
			if err := yaml.Unmarshal(b, &job); err != nil {
				t.Fatal(err)
			}
		}
	}
	spec, err := ParseSpec([]byte(study), "/etc/mlops")
	if err != nil {
		t.Fatalf("the ConfigMap's study.yaml: %v", err)
	}
	if spec.Storage != "s3://my-bucket/studies/fmnist-lr.jsonl" {
		t.Fatalf("storage %q: the workers must share a blob-store journal", spec.Storage)
	}
	c := job.Spec.Template.Spec.Containers
	if job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" || job.Spec.Parallelism < 2 || job.Spec.Completions != job.Spec.Parallelism ||
		len(c) != 1 || !slices.Equal(c[0].Args[:4], []string{"tune", "run", "--worker", "/etc/mlops/study.yaml"}) {
		t.Fatalf("job %+v", job)
	}
}
