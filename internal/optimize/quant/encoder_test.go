package quant

import (
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/runtime"
	"github.com/mlops-dev/mlops/internal/testutil/testmodels"
)

// syntheticEncoder is the MiniLM-sized encoder of testmodels (batch 1), so
// the cosine test runs where torch is not installed.
func syntheticEncoder(t testing.TB) *onnx.Model {
	m, err := testmodels.Encoder(false)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func syntheticEncoderInput() map[string]*runtime.Tensor {
	return map[string]*runtime.Tensor{"hidden": newF32([]int64{1, testmodels.EncoderSeq, testmodels.EncoderHidden}, testmodels.EncoderInput(1))}
}
