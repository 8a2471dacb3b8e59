package metrics

import (
	"fmt"
)

// ZeroDivision is the value a ratio takes when its denominator is zero:
// 0 (scikit-learn's default "warn") or 1.
type ZeroDivision float64

// Confusion is a K×K count matrix: M[t*K+p] counts rows of true class t
// predicted as p. All K classes are kept; Present tells which occur.
type Confusion struct {
	K int
	M []int64
}

// NewConfusion counts yTrue against yPred. Class ids must lie in [0,K).
func NewConfusion(yTrue, yPred []int, k int) (*Confusion, error) {
	if len(yTrue) != len(yPred) {
		return nil, fmt.Errorf("%d labels but %d predictions; they must match one to one", len(yTrue), len(yPred))
	}
	if k <= 0 {
		return nil, fmt.Errorf("number of classes must be positive, got %d", k)
	}
	c := &Confusion{K: k, M: make([]int64, k*k)}
	for i, t := range yTrue {
		p := yPred[i]
		if uint(t) >= uint(k) {
			return nil, fmt.Errorf("label %d at row %d is outside the classes 0..%d", t, i, k-1)
		}
		if uint(p) >= uint(k) {
			return nil, fmt.Errorf("prediction %d at row %d is outside the classes 0..%d", p, i, k-1)
		}
		c.M[t*k+p]++
	}
	return c, nil
}

// Add counts more rows into c (used by streaming evaluation).
func (c *Confusion) Add(yTrue, yPred []int) error {
	o, err := NewConfusion(yTrue, yPred, c.K)
	if err != nil {
		return err
	}
	for i, v := range o.M {
		c.M[i] += v
	}
	return nil
}

// Total is the number of rows counted.
func (c *Confusion) Total() int64 {
	var n int64
	for _, v := range c.M {
		n += v
	}
	return n
}

// stats returns per-class true positives, predicted totals and true totals.
func (c *Confusion) stats() (tp, pred, true_ []int64) {
	k := c.K
	tp, pred, true_ = make([]int64, k), make([]int64, k), make([]int64, k)
	for t := 0; t < k; t++ {
		for p := 0; p < k; p++ {
			v := c.M[t*k+p]
			true_[t] += v
			pred[p] += v
		}
		tp[t] = c.M[t*k+t]
	}
	return tp, pred, true_
}

// Present lists the classes that occur in y_true or y_pred, ascending
// (sklearn's unique_labels).
func (c *Confusion) Present() []int {
	_, pred, tr := c.stats()
	var out []int
	for i := 0; i < c.K; i++ {
		if pred[i] > 0 || tr[i] > 0 {
			out = append(out, i)
		}
	}
	return out
}

// Accuracy is the fraction of correct rows (0 for no rows).
func (c *Confusion) Accuracy() float64 {
	n := c.Total()
	if n == 0 {
		return 0
	}
	var d int64
	for i := 0; i < c.K; i++ {
		d += c.M[i*c.K+i]
	}
	return float64(d) / float64(n)
}

// BalancedAccuracy is the mean recall over the present classes that occur
// in y_true (sklearn drops the NaN recalls of classes only predicted).
func (c *Confusion) BalancedAccuracy() float64 {
	tp, _, tr := c.stats()
	var sum float64
	n := 0
	for _, i := range c.Present() {
		if tr[i] == 0 {
			continue
		}
		sum += float64(tp[i]) / float64(tr[i])
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// ClassScore is precision, recall and F1 of one class.
type ClassScore struct {
	Class     int     `json:"class"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int64   `json:"support"`
}

// PRF is an averaged precision/recall/F1.
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

func divide(num, den int64, zd ZeroDivision) float64 {
	if den == 0 {
		return float64(zd)
	}
	return float64(num) / float64(den)
}

func f1(p, r float64) float64 {
	d := p + r
	if d == 0 {
		d = 1
	}
	return 2 * p * r / d
}

func score(class int, tp, pred, tr int64, zd ZeroDivision) ClassScore {
	p, r := divide(tp, pred, zd), divide(tp, tr, zd)
	return ClassScore{Class: class, Precision: p, Recall: r, F1: f1(p, r), Support: tr}
}

// Class returns the scores of one class whether or not it occurs (sklearn's
// average="binary" with pos_label=class).
func (c *Confusion) Class(class int, zd ZeroDivision) ClassScore {
	tp, pred, tr := c.stats()
	return score(class, tp[class], pred[class], tr[class], zd)
}

// PerClass returns the scores of the present classes.
func (c *Confusion) PerClass(zd ZeroDivision) []ClassScore {
	tp, pred, tr := c.stats()
	var out []ClassScore
	for _, i := range c.Present() {
		out = append(out, score(i, tp[i], pred[i], tr[i], zd))
	}
	return out
}

// Micro pools the counts of the present classes.
func (c *Confusion) Micro(zd ZeroDivision) PRF {
	tp, pred, tr := c.stats()
	var a, b, d int64
	for _, i := range c.Present() {
		a, b, d = a+tp[i], b+pred[i], d+tr[i]
	}
	s := score(0, a, b, d, zd)
	return PRF{s.Precision, s.Recall, s.F1}
}

// Macro is the unweighted mean over the present classes.
func (c *Confusion) Macro(zd ZeroDivision) PRF {
	return average(c.PerClass(zd), false, zd)
}

// Weighted is the support-weighted mean over the present classes.
func (c *Confusion) Weighted(zd ZeroDivision) PRF {
	return average(c.PerClass(zd), true, zd)
}

func average(cs []ClassScore, weighted bool, zd ZeroDivision) PRF {
	var out PRF
	var wsum float64
	for _, s := range cs {
		w := 1.0
		if weighted {
			w = float64(s.Support)
		}
		out.Precision += w * s.Precision
		out.Recall += w * s.Recall
		out.F1 += w * s.F1
		wsum += w
	}
	if wsum == 0 {
		if weighted && len(cs) > 0 {
			// sklearn: no positive labels anywhere.
			return PRF{0, float64(zd), 0}
		}
		return PRF{}
	}
	out.Precision /= wsum
	out.Recall /= wsum
	out.F1 /= wsum
	return out
}
