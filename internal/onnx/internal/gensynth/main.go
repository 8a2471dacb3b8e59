// Command gensynth writes the synthetic models under testdata/synthetic.
// Run it through `go generate ./internal/onnx` from the repository root; the
// output is deterministic, so regenerating leaves git clean.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/onnx/internal/synth"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func main() {
	out := flag.String("out", "testdata/synthetic", "folder to write the models to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gensynth:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.MkdirAll(filepath.Join(out, "external"), 0o755); err != nil {
		return err
	}
	for name, mp := range map[string]*onnxpb.ModelProto{
		"mlp.onnx":       synth.MLP(1, 16, []int64{32, 32}, 10),
		"subgraphs.onnx": synth.Subgraphs(),
		"kitchen.onnx":   synth.Kitchen(),
	} {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, name), b, 0o644); err != nil {
			return err
		}
	}
	// Four 16 KiB tensors over two data files.
	_, err := synth.ExternalModel(context.Background(), filepath.Join(out, "external"), "model.onnx", 64<<10, 4, 2)
	return err
}
