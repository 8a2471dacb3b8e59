package quant

import (
	"github.com/mlops-dev/mlops/internal/onnx"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// float32IO adapts a node rewritten onto a float32-only kernel (ORT's
// DynamicQuantizeLinear, DynamicQuantizeMatMul, DequantizeLinear before
// opset 19) to a model whose float type is ft: it returns the input x cast
// to float32 and the name the kernel should write, which a Cast after n
// turns back into out. For float32 models both names pass through. Casts of
// one input are shared by all its readers in a scope; every Cast inserted is
// reported.
func (r *rewriter) float32IO(s *scope, n *onnxpb.NodeProto, x, out string, ft onnx.DataType, kernel string) (in, y string) {
	if ft == onnx.Float {
		return x, out
	}
	in = x
	if x != "" {
		in = r.castBefore(s, n, x, ft, onnx.Float, kernel+" takes float32 input")
	}
	y = r.names.fresh(out + "_float32")
	r.castAfter(s, n, y, out, onnx.Float, ft, kernel+" output back to the model's "+ft.String())
	return in, y
}
