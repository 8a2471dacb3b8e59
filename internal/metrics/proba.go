package metrics

import (
	"fmt"
	"math"
)

// Softmax turns N×K row-major logits into probabilities in place-safe
// fashion (a new slice), subtracting the row max for stability.
func Softmax(logits []float64, k int) []float64 {
	out := make([]float64, len(logits))
	for i := 0; i+k <= len(logits); i += k {
		row := logits[i : i+k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var s float64
		for j, v := range row {
			e := math.Exp(v - m)
			out[i+j] = e
			s += e
		}
		for j := range row {
			out[i+j] /= s
		}
	}
	return out
}

// Argmax returns each row's highest-scoring class, ties to the lowest index.
func Argmax(scores []float64, k int) []int {
	out := make([]int, len(scores)/k)
	for i := range out {
		row := scores[i*k : (i+1)*k]
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// LooksLikeProbabilities reports whether every row is non-negative and sums
// to 1 within tolerance, i.e. the model already applied softmax.
func LooksLikeProbabilities(scores []float64, k int) bool {
	for i := 0; i+k <= len(scores); i += k {
		var s float64
		for _, v := range scores[i : i+k] {
			if v < 0 || v > 1 || math.IsNaN(v) {
				return false
			}
			s += v
		}
		if math.Abs(s-1) > 1e-3 {
			return false
		}
	}
	return true
}

// LogLoss is sklearn's log_loss(y_true, proba, labels=range(K)): rows are
// clipped to [ε, 1−ε] (ε = float64 machine epsilon) and renormalised.
func LogLoss(yTrue []int, proba []float64, k int) (float64, error) {
	if k < 2 {
		return math.NaN(), fmt.Errorf("log loss needs at least two classes, got %d", k)
	}
	if len(yTrue) == 0 {
		return math.NaN(), fmt.Errorf("log loss of no rows is undefined")
	}
	const eps = 2.220446049250313e-16
	var sum float64
	for i, t := range yTrue {
		row := proba[i*k : (i+1)*k]
		var s, pt float64
		for j, v := range row {
			v = math.Min(math.Max(v, eps), 1-eps)
			s += v
			if j == t {
				pt = v
			}
		}
		sum += -math.Log(pt / s)
	}
	return sum / float64(len(yTrue)), nil
}

// BinaryLogLoss is LogLoss for P(positive) per row.
func BinaryLogLoss(yTrue []bool, p []float64) (float64, error) {
	y := make([]int, len(yTrue))
	proba := make([]float64, 2*len(p))
	for i, v := range p {
		if yTrue[i] {
			y[i] = 1
		}
		proba[2*i], proba[2*i+1] = 1-math.Min(math.Max(v, 2.220446049250313e-16), 1-2.220446049250313e-16), v
	}
	return LogLoss(y, proba, 2)
}

// Calibration is a reliability diagram: per bin, the mean confidence, the
// accuracy and the count, plus the expected calibration error.
type Calibration struct {
	ECE        float64   `json:"ece"`
	Confidence []float64 `json:"confidence"`
	Accuracy   []float64 `json:"accuracy"`
	Count      []int64   `json:"count"`
}

// Calibrate bins rows by their top-class probability into `bins` equal
// bins and returns ECE = Σ n_b/N · |acc_b − conf_b|.
func Calibrate(yTrue []int, proba []float64, k, bins int) Calibration {
	c := Calibration{Confidence: make([]float64, bins), Accuracy: make([]float64, bins), Count: make([]int64, bins)}
	for i, t := range yTrue {
		row := proba[i*k : (i+1)*k]
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		conf := row[best]
		b := int(math.Floor(conf * float64(bins)))
		b = min(max(b, 0), bins-1)
		c.Count[b]++
		c.Confidence[b] += conf
		if best == t {
			c.Accuracy[b]++
		}
	}
	n := float64(len(yTrue))
	for b := range c.Count {
		if c.Count[b] == 0 {
			continue
		}
		cnt := float64(c.Count[b])
		c.ECE += cnt / n * math.Abs(c.Accuracy[b]/cnt-c.Confidence[b]/cnt)
		c.Confidence[b] /= cnt
		c.Accuracy[b] /= cnt
	}
	return c
}
