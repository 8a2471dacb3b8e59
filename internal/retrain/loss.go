package retrain

import . "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import

// lossSpec is the loss of one run.
type lossSpec struct {
	kind      string  // cross_entropy, bce, mse
	smoothing float64 // cross_entropy label smoothing
	distill   bool    // add the distillation term
	alpha     float64 // weight of the distillation term
	temp      float64
	labels    bool // labels take part (false only for alpha = 1 distillation)
}

// rowLoss returns the loss of every row, shape [B]. out is the model's
// logits (or values, for mse); labels is Int64 [B] for cross_entropy and
// Float64 shaped like out otherwise; teacher holds teacher logits [B,K].
//
// Distillation is Hinton's: alpha·T²·KL(softmax(teacher/T) ‖ softmax(out/T))
// + (1−alpha)·CE(out, labels). alpha = 1 learns from the teacher alone.
func (l lossSpec) rowLoss(out, labels, teacher *Node) *Node {
	dt := out.DType()
	var total *Node
	if l.labels && (!l.distill || l.alpha < 1) {
		total = l.labelLoss(out, labels)
		if l.distill {
			total = MulScalar(total, 1-l.alpha)
		}
	}
	if l.distill && l.alpha > 0 {
		t := ConvertDType(teacher, dt)
		logS := LogSoftmax(MulScalar(out, 1/l.temp), -1)
		logT := LogSoftmax(MulScalar(t, 1/l.temp), -1)
		kl := ReduceSum(Mul(Exp(logT), Sub(logT, logS)), -1)
		kl = MulScalar(kl, l.alpha*l.temp*l.temp)
		if total == nil {
			total = kl
		} else {
			total = Add(total, kl)
		}
	}
	return total
}

// labelLoss is the per-row supervised loss.
func (l lossSpec) labelLoss(out, labels *Node) *Node {
	dt := out.DType()
	switch l.kind {
	case LossCrossEntropy:
		k := out.Shape().Dimensions[out.Rank()-1]
		target := OneHot(labels, k, dt)
		if l.smoothing > 0 {
			target = AddScalar(MulScalar(target, 1-l.smoothing), l.smoothing/float64(k))
		}
		return Neg(ReduceSum(Mul(target, LogSoftmax(out, -1)), -1))
	case LossBCE:
		y := Reshape(ConvertDType(labels, dt), out.Shape().Dimensions...)
		// max(z,0) − z·y + log(1+exp(−|z|)): the stable form of BCE on logits.
		e := Add(Sub(Max(out, ZerosLike(out)), Mul(out, y)), Log1p(Exp(Neg(Abs(out)))))
		return rowMean(e)
	default: // mse
		y := Reshape(ConvertDType(labels, dt), out.Shape().Dimensions...)
		d := Sub(out, y)
		return rowMean(Mul(d, d))
	}
}

// rowMean averages every axis but the first.
func rowMean(x *Node) *Node {
	if x.Rank() == 1 {
		return x
	}
	axes := make([]int, x.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	return ReduceMean(x, axes...)
}
