package metrics

import (
	"errors"
	"math"
	"slices"
	"sync"
)

// ErrOneClass is returned by ROCAUC when y_true holds only one class.
var ErrOneClass = errors.New("ROC AUC is undefined when y_true holds a single class")

// threshold is one distinct score with the cumulative counts of positives
// (tps) and negatives (fps) scoring at or above it.
type threshold struct {
	score    float64
	tps, fps int64
}

// sortedSplit sorts the scores of positives and negatives separately,
// descending, in parallel: cheaper than sorting index pairs.
func sortedSplit(yTrue []bool, score []float64) (pos, neg []float64) {
	for i, y := range yTrue {
		if y {
			pos = append(pos, score[i])
		} else {
			neg = append(neg, score[i])
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); slices.Sort(pos) }()
	slices.Sort(neg)
	wg.Wait()
	slices.Reverse(pos)
	slices.Reverse(neg)
	return pos, neg
}

// walk calls fn at each distinct score, highest first (sklearn's
// _binary_clf_curve). NaN scores sort first in Go; callers reject them.
func walk(pos, neg []float64, fn func(threshold)) {
	i, j := 0, 0
	for i < len(pos) || j < len(neg) {
		var s float64
		switch {
		case j >= len(neg) || (i < len(pos) && pos[i] >= neg[j]):
			s = pos[i]
		default:
			s = neg[j]
		}
		for i < len(pos) && pos[i] == s {
			i++
		}
		for j < len(neg) && neg[j] == s {
			j++
		}
		fn(threshold{s, int64(i), int64(j)})
	}
}

// ROCAUC is the area under the ROC curve of scores for the positive class.
func ROCAUC(yTrue []bool, score []float64) (float64, error) {
	pos, neg := sortedSplit(yTrue, score)
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN(), ErrOneClass
	}
	var area float64
	var ptp, pfp int64
	walk(pos, neg, func(t threshold) {
		area += float64(t.fps-pfp) * float64(t.tps+ptp) / 2
		ptp, pfp = t.tps, t.fps
	})
	return area / (float64(len(pos)) * float64(len(neg))), nil
}

// AveragePrecision is sklearn's average_precision_score: Σ(Rₙ−Rₙ₋₁)·Pₙ over
// distinct thresholds, highest first; 0 when there are no positives.
func AveragePrecision(yTrue []bool, score []float64) float64 {
	pos, neg := sortedSplit(yTrue, score)
	return averagePrecision(pos, neg)
}

func averagePrecision(pos, neg []float64) float64 {
	P := float64(len(pos))
	var ap, prev float64
	walk(pos, neg, func(t threshold) {
		r := 1.0
		if P > 0 {
			r = float64(t.tps) / P
		}
		p := float64(t.tps) / float64(t.tps+t.fps)
		ap += (r - prev) * p
		prev = r
	})
	return ap
}

// Curve is a ROC or precision-recall curve for plotting.
type Curve struct {
	X, Y       []float64
	Thresholds []float64
}

// ROCCurve returns false/true positive rates at each distinct threshold,
// starting at (0,0).
func ROCCurve(yTrue []bool, score []float64) Curve {
	pos, neg := sortedSplit(yTrue, score)
	c := Curve{X: []float64{0}, Y: []float64{0}, Thresholds: []float64{math.Inf(1)}}
	walk(pos, neg, func(t threshold) {
		c.X = append(c.X, ratio(t.fps, int64(len(neg))))
		c.Y = append(c.Y, ratio(t.tps, int64(len(pos))))
		c.Thresholds = append(c.Thresholds, t.score)
	})
	return c
}

// PRCurve returns recall (X) and precision (Y) at each distinct threshold
// in increasing recall, starting from sklearn's end point (recall 0,
// precision 1), i.e. precision_recall_curve reversed.
func PRCurve(yTrue []bool, score []float64) Curve {
	pos, neg := sortedSplit(yTrue, score)
	c := Curve{X: []float64{0}, Y: []float64{1}, Thresholds: []float64{math.Inf(1)}}
	walk(pos, neg, func(t threshold) {
		c.X = append(c.X, ratio(t.tps, int64(len(pos))))
		c.Y = append(c.Y, float64(t.tps)/float64(t.tps+t.fps))
		c.Thresholds = append(c.Thresholds, t.score)
	})
	return c
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// OVR holds one-vs-rest ROC-AUC and average precision per class. Classes
// absent from y_true are left out of both averages; classes that are all
// of y_true have NaN ROC-AUC and are left out of the ROC averages.
type OVR struct {
	ROCAUC           []float64 `json:"roc_auc"`
	AveragePrecision []float64 `json:"average_precision"`
	ROCAUCMacro      float64   `json:"roc_auc_macro"`
	ROCAUCWeighted   float64   `json:"roc_auc_weighted"`
	PRAUCMacro       float64   `json:"pr_auc_macro"`
	PRAUCWeighted    float64   `json:"pr_auc_weighted"`
}

// OneVsRest scores every class c with column c of the N×K row-major scores.
func OneVsRest(yTrue []int, scores []float64, k int) OVR {
	n := len(yTrue)
	o := OVR{ROCAUC: make([]float64, k), AveragePrecision: make([]float64, k)}
	support := make([]float64, k)
	for _, y := range yTrue {
		if uint(y) < uint(k) {
			support[y]++
		}
	}
	col := make([]float64, n)
	yb := make([]bool, n)
	var mA, mW, pA, pW, cnt, wsum, pcnt, pwsum float64
	for c := 0; c < k; c++ {
		for i := 0; i < n; i++ {
			col[i] = scores[i*k+c]
			yb[i] = yTrue[i] == c
		}
		pos, neg := sortedSplit(yb, col)
		o.AveragePrecision[c] = averagePrecision(pos, neg)
		if support[c] > 0 {
			pA += o.AveragePrecision[c]
			pW += o.AveragePrecision[c] * support[c]
			pcnt++
			pwsum += support[c]
		}
		if support[c] == 0 || support[c] == float64(n) {
			o.ROCAUC[c] = math.NaN()
			continue
		}
		auc, _ := ROCAUC(yb, col)
		o.ROCAUC[c] = auc
		mA += auc
		mW += auc * support[c]
		cnt++
		wsum += support[c]
	}
	o.ROCAUCMacro, o.ROCAUCWeighted, o.PRAUCMacro, o.PRAUCWeighted = math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if cnt > 0 {
		o.ROCAUCMacro, o.ROCAUCWeighted = mA/cnt, mW/wsum
	}
	if pcnt > 0 {
		o.PRAUCMacro, o.PRAUCWeighted = pA/pcnt, pW/pwsum
	}
	return o
}

// TopK is the fraction of rows whose true class is among the k highest
// scores, ties ranked by higher class index first (sklearn's
// top_k_accuracy_score).
func TopK(yTrue []int, scores []float64, k, topk int) float64 {
	if len(yTrue) == 0 {
		return 0
	}
	hits := 0
	for i, t := range yTrue {
		row := scores[i*k : (i+1)*k]
		st := row[t]
		above := 0
		for j, s := range row {
			if s > st || (s == st && j > t) {
				above++
			}
		}
		if above < topk {
			hits++
		}
	}
	return float64(hits) / float64(len(yTrue))
}

// BinaryRanking returns ROC-AUC (NaN with ErrOneClass when y_true holds one
// class) and average precision from a single sort.
func BinaryRanking(yTrue []bool, score []float64) (auc, ap float64, err error) {
	pos, neg := sortedSplit(yTrue, score)
	ap = averagePrecision(pos, neg)
	if len(pos) == 0 || len(neg) == 0 {
		return math.NaN(), ap, ErrOneClass
	}
	var area float64
	var ptp, pfp int64
	walk(pos, neg, func(t threshold) {
		area += float64(t.fps-pfp) * float64(t.tps+ptp) / 2
		ptp, pfp = t.tps, t.fps
	})
	return area / (float64(len(pos)) * float64(len(neg))), ap, nil
}
