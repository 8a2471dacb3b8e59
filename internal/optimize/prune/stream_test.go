package prune

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// TestGlobalThresholdMatchesInMemory checks that the streaming global
// threshold (radix histograms, two passes) masks exactly what the in-memory
// selection does, ties included.
func TestGlobalThresholdMatchesInMemory(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := &onnx.Model{Proto: &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{}}}
	var targets []*target
	var imps [][]float32
	for i, n := range []int{300, 1000, 57} {
		v := make([]float32, n)
		for j := range v {
			v[j] = float32(r.IntN(40)-20) * 0.125 // many ties, zeros and signs
		}
		tp := &onnxpb.TensorProto{Name: proto.String(string(rune('a' + i)))}
		if err := onnx.SetValues(tp, []int64{int64(n)}, v); err != nil {
			t.Fatal(err)
		}
		m.Proto.Graph.Initializer = append(m.Proto.Graph.Initializer, tp)
		targets = append(targets, &target{init: tp})
		imp, _, _ := importance(v, CriterionL1, nil)
		imps = append(imps, imp)
	}
	st := onnx.NewTensorStream(m, false)
	for _, sp := range []float64{0, 0.1, 0.37, 0.5, 0.99, 1} {
		total := 0
		for _, v := range imps {
			total += len(v)
		}
		want := smallestMask(imps, roundHalfEven(sp*float64(total)))
		g, err := findGlobalThreshold(context.Background(), st, targets, sp)
		if err != nil {
			t.Fatal(err)
		}
		for i, imp := range imps {
			one := smallestMask([][]float32{imp}, roundHalfEven(sp*float64(len(imp))))[0]
			for j, z := range radixThreshold([][]float32{imp}, int64(roundHalfEven(sp*float64(len(imp))))).mask(imp) {
				if z != one[j] {
					t.Fatalf("layer scope, sparsity %v: tensor %d element %d masked %v, selection %v", sp, i, j, z, one[j])
				}
			}
			got := g.mask(imp)
			for j := range got {
				if got[j] != want[i][j] {
					t.Fatalf("sparsity %v: tensor %d element %d masked %v, in-memory %v", sp, i, j, got[j], want[i][j])
				}
			}
		}
	}
}
