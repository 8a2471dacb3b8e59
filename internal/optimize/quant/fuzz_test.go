package quant

import (
	"context"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// FuzzQuantize feeds arbitrary model bytes (seeded with small real models in
// testdata/fuzz/FuzzQuantize) through every rewrite: a malformed graph must
// produce an error or a model, never a panic.
func FuzzQuantize(f *testing.F) {
	for _, m := range []*onnx.Model{sharedNet(f), subgraphNet(f)} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, opts := range []Options{
			{Mode: Dynamic, Format: QDQ, WeightType: Int8, SymmetricWeights: true, PerChannel: []string{"all"}},
			{Mode: Static, Format: QDQ, WeightType: Int8, ActivationType: Uint8},
			{Mode: Static, Format: QOperator, WeightType: Uint8, ActivationType: Int8, PerChannel: []string{"all"}},
		} {
			m, err := onnx.Decode(b)
			if err != nil {
				return
			}
			ranges := map[string]Range{}
			for _, name := range CalibrationTensors(m, opts) {
				ranges[name] = Range{Min: -1, Max: 2}
			}
			if _, err := Quantize(context.Background(), m, opts, ranges); err == nil {
				if _, err := m.Encode(); err != nil {
					t.Fatalf("quantized model does not encode: %v", err)
				}
			}
		}
	})
}
