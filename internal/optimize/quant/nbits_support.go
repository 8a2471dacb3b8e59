package quant

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx"
)

// MatMulNBits and GatherBlockQuantized live in opset 1 of com.microsoft;
// ONNX Runtime ships MatMulNBits since 1.17 and GatherBlockQuantized since
// 1.20 (the CPU kernels the float16 and packed-uint8 forms here need).
var nbitsMinORT = [2]int{1, 20}

// checkNBits rejects 4-bit quantization for a model whose com.microsoft
// import is not opset 1 (where the operators are defined), and, when the
// ONNX Runtime that will run it is known, for runtimes older than the
// kernels. ortVersion is "" when no runtime was opened.
func checkNBits(m *onnx.Model, ortVersion string) error {
	if v, ok := onnx.OpsetVersion(m.Proto, "com.microsoft"); ok && v != 1 {
		return fmt.Errorf("%w: the model imports com.microsoft opset %d, and MatMulNBits/GatherBlockQuantized are defined in com.microsoft opset 1: re-export the model, or use --bits 8", ErrOpsetTooOld, v)
	}
	if ortVersion == "" {
		return nil
	}
	maj, min, ok := parseVersion(ortVersion)
	if ok && (maj < nbitsMinORT[0] || (maj == nbitsMinORT[0] && min < nbitsMinORT[1])) {
		return fmt.Errorf("%w: ONNX Runtime %s has no MatMulNBits/GatherBlockQuantized CPU kernels for this layout (they need %d.%d or later): install a newer ONNX Runtime (make setup) or use --bits 8", ErrOpsetTooOld, ortVersion, nbitsMinORT[0], nbitsMinORT[1])
	}
	return nil
}

func parseVersion(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(parts[0])
	b, err2 := strconv.Atoi(parts[1])
	return a, b, err1 == nil && err2 == nil
}
