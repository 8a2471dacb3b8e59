package monitor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mlops-dev/mlops/internal/metrics"
)

// QualityMetrics are classification metrics over joined rows, defined as scikit-learn's
// accuracy_score and precision/recall/f1 with average="macro", zero_division=0 (over the union of
// true and predicted labels). JSON field names are a contract.
type QualityMetrics struct {
	Rows           int     `json:"rows"`
	Accuracy       float64 `json:"accuracy"`
	PrecisionMacro float64 `json:"precision_macro"`
	RecallMacro    float64 `json:"recall_macro"`
	F1Macro        float64 `json:"f1_macro"`
}

// Label names the window's start: to the minute, or to the second for windows under a minute.
func (w Window) Label() string {
	if w.End.Sub(w.Start) < time.Minute {
		return w.Start.Format("2006-01-02 15:04:05")
	}
	return w.Start.Format("2006-01-02 15:04")
}

// Window is the quality of one time window [Start, End).
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	QualityMetrics
}

// Quality is the live quality from delayed labels.
type Quality struct {
	LabelledRows    int            `json:"labelled_rows"`
	UnlabelledRows  int            `json:"unlabelled_rows"`
	UnmatchedLabels int            `json:"unmatched_labels"` // labels whose request id is not in the logs
	CountMismatches int            `json:"label_count_mismatches"`
	MismatchExample string         `json:"label_count_mismatch_example,omitempty"`
	Window          string         `json:"window"`
	Overall         QualityMetrics `json:"overall"`
	Windows         []Window       `json:"windows"`
}

// JoinQuality joins labels to the frame's predictions by request id and computes quality overall and
// per window (aligned to multiples of window in UTC). A request whose label count differs from its row
// count is not joined; it is counted and one example is kept, so the run goes on.
func JoinQuality(ctx context.Context, f *Frame, labels Labels, window time.Duration) (Quality, error) {
	if f.Predicted == nil {
		return Quality{}, errors.New("the payload logs hold no outputs, so there are no predictions to score; log outputs in serve or drop --labels")
	}
	if window <= 0 {
		return Quality{}, fmt.Errorf("window %v must be positive", window)
	}
	q := Quality{Window: window.String()}
	reqRows := map[string]int{}
	for _, id := range f.RequestIDs {
		reqRows[id]++
	}
	for id := range labels {
		if _, ok := reqRows[id]; !ok {
			q.UnmatchedLabels++
		}
	}
	type pair struct{ truth, pred string }
	byWindow := map[time.Time][]pair{}
	var all []pair
	for i, id := range f.RequestIDs {
		if i%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return Quality{}, err
			}
		}
		ls, ok := labels[id]
		if !ok {
			q.UnlabelledRows++
			continue
		}
		if len(ls) != reqRows[id] {
			if f.RowInReq[i] == 0 {
				q.CountMismatches++
				if q.MismatchExample == "" {
					q.MismatchExample = fmt.Sprintf("request %s has %d rows in the logs but %d labels", id, reqRows[id], len(ls))
				}
			}
			continue
		}
		p := pair{ls[f.RowInReq[i]], f.Predicted[i]}
		all = append(all, p)
		start := f.Times[i].UTC().Truncate(window)
		byWindow[start] = append(byWindow[start], p)
	}
	q.LabelledRows = len(all)
	if len(all) == 0 {
		return q, nil
	}
	score := func(ps []pair) QualityMetrics {
		truth := make([]string, len(ps))
		pred := make([]string, len(ps))
		for i, p := range ps {
			truth[i], pred[i] = p.truth, p.pred
		}
		return ClassificationMetrics(truth, pred)
	}
	q.Overall = score(all)
	for start, ps := range byWindow {
		q.Windows = append(q.Windows, Window{Start: start, End: start.Add(window), QualityMetrics: score(ps)})
	}
	sort.Slice(q.Windows, func(i, j int) bool { return q.Windows[i].Start.Before(q.Windows[j].Start) })
	return q, nil
}

// ClassificationMetrics computes accuracy and macro precision/recall/F1 as scikit-learn does with
// zero_division=0, through internal/metrics (which eval shares). Labels are strings (class ids or
// names); the classes are the union of true and predicted labels. truth and pred must have the
// same length.
func ClassificationMetrics(truth, pred []string) QualityMetrics {
	m := QualityMetrics{Rows: len(truth)}
	if len(truth) == 0 || len(truth) != len(pred) {
		return m
	}
	ids := map[string]int{}
	for _, ls := range [][]string{truth, pred} {
		for _, l := range ls {
			if _, ok := ids[l]; !ok {
				ids[l] = len(ids)
			}
		}
	}
	yTrue, yPred := make([]int, len(truth)), make([]int, len(pred))
	for i := range truth {
		yTrue[i], yPred[i] = ids[truth[i]], ids[pred[i]]
	}
	c, err := metrics.NewConfusion(yTrue, yPred, len(ids))
	if err != nil {
		// Unreachable: ids cover every label and the lengths match.
		return m
	}
	macro := c.Macro(0)
	m.Accuracy, m.PrecisionMacro, m.RecallMacro, m.F1Macro = c.Accuracy(), macro.Precision, macro.Recall, macro.F1
	return m
}
