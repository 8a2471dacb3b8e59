package export

import (
	"fmt"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// runInMemoryLimit is the most external data a conversion still hands to
// ONNX Runtime whole (to learn element types, prove the result loads, or
// verify it): ORT runs in this process, so that would put the whole model in
// our resident memory. Larger models skip those runs, say so in the report,
// and stream their tensors.
const runInMemoryLimit = 1 << 30

// tooLargeToRun returns why m is not run in ONNX Runtime during conversion,
// or "" when it may be.
func tooLargeToRun(m *onnx.Model) string {
	if n := onnx.ExternalBytes(m); n > runInMemoryLimit {
		return fmt.Sprintf("the model has %.1f GiB of external data, more than the %d GiB mlops loads into ONNX Runtime during a conversion; its tensors were converted one at a time", float64(n)/(1<<30), runInMemoryLimit>>30)
	}
	return ""
}
