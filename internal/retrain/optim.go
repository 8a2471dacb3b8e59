package retrain

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:revive // graph code reads as maths with the dot import
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Adam's constants are torch's defaults.
const (
	adamBeta1 = 0.9
	adamBeta2 = 0.999
	adamEps   = 1e-8
)

// optimizer updates trainable variables from their gradients inside the
// training graph. Its state (momentum buffers, Adam moments) lives in
// variables of the same store under optScope, so checkpoints save it and a
// resumed run continues bit-identically. The learning rate and Adam's bias
// corrections arrive per step as scalar inputs computed on the host.
type optimizer struct {
	kind        string
	momentum    float64
	weightDecay float64
}

const optScope = "optimizer"

// slotNames are the state variables each optimizer keeps per weight.
func slotNames(kind string) []string {
	switch kind {
	case OptMomentum:
		return []string{"momentum"}
	case OptAdam, OptAdamW:
		return []string{"m", "v"}
	}
	return nil
}

// newOptimizer creates zeroed state for every trainable variable.
func newOptimizer(store *model.Store, h *Hyperparameters, vars []*model.Variable) (*optimizer, error) {
	o := &optimizer{kind: h.Optimizer, momentum: h.Momentum, weightDecay: h.WeightDecay}
	for _, v := range vars {
		for _, s := range slotNames(o.kind) {
			path := slotPath(s, v)
			if store.GetVariable(path) != nil {
				return nil, fmt.Errorf("optimizer state %s exists twice", path)
			}
			sv := store.VariableWithValue(path, tensors.FromShape(shapes.Make(v.DType(), v.Shape().Dimensions...)))
			sv.SetTrainable(false)
		}
	}
	return o, nil
}

// slotPath is where state s of weight v lives in the store.
func slotPath(s string, v *model.Variable) string {
	return model.JoinPath("/"+optScope, s, model.BasePath(v.Path()))
}

// slots are weight v's state variables in store (the step may run on a
// copy of the store, so they are looked up, not kept).
func (o *optimizer) slots(store *model.Store, v *model.Variable) []*model.Variable {
	var out []*model.Variable
	for _, s := range slotNames(o.kind) {
		out = append(out, store.GetVariable(slotPath(s, v)))
	}
	return out
}

// stateVariables lists the optimizer's variables in a stable order.
func (o *optimizer) stateVariables(store *model.Store, vars []*model.Variable) []*model.Variable {
	var out []*model.Variable
	for _, v := range vars {
		out = append(out, o.slots(store, v)...)
	}
	return out
}

// update sets the new value of each variable: w, its gradient g, learning
// rate lr and bias corrections bc1 = 1−β1^t and bc2 = 1−β2^t (scalars).
// The formulas are torch's (SGD with dampening 0, Adam, AdamW).
func (o *optimizer) update(store *model.Store, vars []*model.Variable, weights, grads []*Node, lr, bc1, bc2 *Node) {
	for i, v := range vars {
		w, g := weights[i], grads[i]
		dt := w.DType()
		lrN := ConvertDType(lr, dt)
		if o.weightDecay > 0 && o.kind != OptAdamW {
			g = Add(g, MulScalar(w, o.weightDecay))
		}
		switch o.kind {
		case OptSGD:
			v.SetNodeValue(Sub(w, Mul(lrN, g)))
		case OptMomentum:
			buf := o.slots(store, v)[0]
			b := Add(MulScalar(buf.NodeValue(w), o.momentum), g)
			buf.SetNodeValue(b)
			v.SetNodeValue(Sub(w, Mul(lrN, b)))
		case OptAdam, OptAdamW:
			if o.kind == OptAdamW && o.weightDecay > 0 {
				w = Sub(w, Mul(MulScalar(lrN, o.weightDecay), w))
			}
			sl := o.slots(store, v)
			mv, vv := sl[0], sl[1]
			m := Add(MulScalar(mv.NodeValue(w), adamBeta1), MulScalar(g, 1-adamBeta1))
			s := Add(MulScalar(vv.NodeValue(w), adamBeta2), MulScalar(Mul(g, g), 1-adamBeta2))
			mv.SetNodeValue(m)
			vv.SetNodeValue(s)
			denom := AddScalar(Div(Sqrt(s), Sqrt(ConvertDType(bc2, dt))), adamEps)
			step := Div(lrN, ConvertDType(bc1, dt))
			v.SetNodeValue(Sub(w, Mul(step, Div(m, denom))))
		}
	}
}

// biasCorrections are Adam's 1−β^t for step t (1-based), in float64.
func biasCorrections(t int) (float64, float64) {
	return 1 - math.Pow(adamBeta1, float64(t)), 1 - math.Pow(adamBeta2, float64(t))
}
