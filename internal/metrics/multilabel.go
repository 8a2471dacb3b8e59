package metrics

import (
	"fmt"
	"math"
)

// Multilabel holds sklearn's multilabel-indicator metrics.
type Multilabel struct {
	SubsetAccuracy float64      `json:"subset_accuracy"`
	HammingLoss    float64      `json:"hamming_loss"`
	Micro          PRF          `json:"micro"`
	Macro          PRF          `json:"macro"`
	Weighted       PRF          `json:"weighted"`
	Samples        PRF          `json:"samples"`
	PerLabel       []ClassScore `json:"per_label"`
	ROCAUCMacro    float64      `json:"roc_auc_macro"`
	PRAUCMacro     float64      `json:"pr_auc_macro"`
}

// MultilabelScores evaluates N×K indicator targets against N×K scores,
// predicting label j when score > threshold. ROC-AUC/PR-AUC macro averages
// skip labels whose column is constant in y_true.
func MultilabelScores(yTrue []bool, scores []float64, k int, threshold float64, zd ZeroDivision) (Multilabel, error) {
	if len(yTrue) != len(scores) || k <= 0 || len(yTrue)%k != 0 {
		return Multilabel{}, fmt.Errorf("multilabel targets (%d values) and scores (%d values) must both be N×%d", len(yTrue), len(scores), k)
	}
	n := len(yTrue) / k
	if n == 0 {
		return Multilabel{}, fmt.Errorf("no rows to evaluate")
	}
	var m Multilabel
	tp, pred, tr := make([]int64, k), make([]int64, k), make([]int64, k)
	exact, wrong := 0, 0
	var sp, sr, sf float64
	for i := 0; i < n; i++ {
		same := true
		var rtp, rpred, rtrue int64
		for j := 0; j < k; j++ {
			t, p := yTrue[i*k+j], scores[i*k+j] > threshold
			if t != p {
				same = false
				wrong++
			}
			if p {
				pred[j]++
				rpred++
			}
			if t {
				tr[j]++
				rtrue++
				if p {
					tp[j]++
					rtp++
				}
			}
		}
		if same {
			exact++
		}
		s := score(0, rtp, rpred, rtrue, zd)
		sp, sr, sf = sp+s.Precision, sr+s.Recall, sf+s.F1
	}
	m.SubsetAccuracy = float64(exact) / float64(n)
	m.HammingLoss = float64(wrong) / float64(n*k)
	m.Samples = PRF{sp / float64(n), sr / float64(n), sf / float64(n)}
	var a, b, c int64
	for j := 0; j < k; j++ {
		m.PerLabel = append(m.PerLabel, score(j, tp[j], pred[j], tr[j], zd))
		a, b, c = a+tp[j], b+pred[j], c+tr[j]
	}
	s := score(0, a, b, c, zd)
	m.Micro = PRF{s.Precision, s.Recall, s.F1}
	m.Macro = average(m.PerLabel, false, zd)
	if c == 0 {
		if b == 0 {
			m.Weighted = PRF{float64(zd), float64(zd), float64(zd)}
		} else {
			m.Weighted = PRF{0, float64(zd), 0}
		}
	} else {
		m.Weighted = average(m.PerLabel, true, zd)
	}
	col := make([]float64, n)
	yb := make([]bool, n)
	var auc, ap, cnt float64
	for j := 0; j < k; j++ {
		for i := 0; i < n; i++ {
			col[i], yb[i] = scores[i*k+j], yTrue[i*k+j]
		}
		v, err := ROCAUC(yb, col)
		if err != nil {
			continue
		}
		auc += v
		ap += AveragePrecision(yb, col)
		cnt++
	}
	m.ROCAUCMacro, m.PRAUCMacro = math.NaN(), math.NaN()
	if cnt > 0 {
		m.ROCAUCMacro, m.PRAUCMacro = auc/cnt, ap/cnt
	}
	return m, nil
}
