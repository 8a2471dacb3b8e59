package metrics

import (
	"fmt"
	"math"
)

// Regression holds sklearn's regression metrics.
type Regression struct {
	MAE  float64 `json:"mae"`
	MSE  float64 `json:"mse"`
	RMSE float64 `json:"rmse"`
	R2   float64 `json:"r2"`
	MAPE float64 `json:"mape"`
}

// Regress compares predictions with targets. R² follows r2_score: 1 when
// both numerator and denominator are 0, 0 when only the denominator is.
// MAPE divides by max(|y|, ε) like mean_absolute_percentage_error.
func Regress(yTrue, yPred []float64) (Regression, error) {
	if len(yTrue) != len(yPred) {
		return Regression{}, fmt.Errorf("%d targets but %d predictions; they must match one to one", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return Regression{}, fmt.Errorf("no rows to evaluate")
	}
	const eps = 2.220446049250313e-16
	n := float64(len(yTrue))
	var mean float64
	for _, y := range yTrue {
		mean += y
	}
	mean /= n
	var r Regression
	var ssRes, ssTot float64
	for i, y := range yTrue {
		d := yPred[i] - y
		r.MAE += math.Abs(d)
		ssRes += d * d
		ssTot += (y - mean) * (y - mean)
		r.MAPE += math.Abs(d) / math.Max(math.Abs(y), eps)
	}
	r.MAE /= n
	r.MSE = ssRes / n
	r.RMSE = math.Sqrt(r.MSE)
	r.MAPE /= n
	switch {
	case len(yTrue) < 2:
		r.R2 = math.NaN() // sklearn: R² is not well-defined with fewer than two samples
	case ssTot != 0:
		r.R2 = 1 - ssRes/ssTot
	case ssRes == 0:
		r.R2 = 1
	default:
		r.R2 = 0
	}
	return r, nil
}
