package metrics

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"testing"
)

// golden mirrors testdata/metrics/golden.json, written by generate.py with
// scikit-learn 1.2. null means "undefined" and maps to NaN.
type golden struct {
	SklearnVersion string `json:"sklearn_version"`
	ECEBins        int    `json:"ece_bins"`
	Multiclass     []struct {
		Name     string    `json:"name"`
		K        int       `json:"k"`
		YTrue    []int     `json:"y_true"`
		Proba    []float64 `json:"proba"`
		Expected struct {
			Accuracy         float64              `json:"accuracy"`
			BalancedAccuracy float64              `json:"balanced_accuracy"`
			Confusion        []int64              `json:"confusion"`
			LogLoss          float64              `json:"log_loss"`
			ECE              float64              `json:"ece"`
			Top2             *float64             `json:"top2"`
			OVR              map[string]any       `json:"ovr"`
			Present          []int                `json:"present"`
			Avg              map[string][]float64 `json:"-"`
		} `json:"expected"`
		Raw map[string]json.RawMessage `json:"-"`
	} `json:"multiclass"`
	Binary []struct {
		Name     string         `json:"name"`
		YTrue    []int          `json:"y_true"`
		P        []float64      `json:"p"`
		Expected map[string]any `json:"expected"`
	} `json:"binary"`
	Multilabel []struct {
		Name     string         `json:"name"`
		K        int            `json:"k"`
		YTrue    []int          `json:"y_true"`
		Scores   []float64      `json:"scores"`
		Expected map[string]any `json:"expected"`
	} `json:"multilabel"`
	Regression []struct {
		Name     string              `json:"name"`
		YTrue    []float64           `json:"y_true"`
		YPred    []float64           `json:"y_pred"`
		Expected map[string]*float64 `json:"expected"`
	} `json:"regression"`
	McNemar []struct {
		B, C   int64
		PValue float64 `json:"p_value"`
	} `json:"mcnemar"`
	Percentile struct {
		Values   []float64 `json:"values"`
		Q        []float64 `json:"q"`
		Expected []float64 `json:"expected"`
	} `json:"percentile"`
}

func loadGolden(t *testing.T) (*golden, []map[string]any) {
	t.Helper()
	b, err := os.ReadFile("../../testdata/metrics/golden.json")
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 testdata/metrics/generate.py)", err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Multiclass []struct {
			Expected map[string]any `json:"expected"`
		} `json:"multiclass"`
	}
	json.Unmarshal(b, &raw)
	exp := make([]map[string]any, len(raw.Multiclass))
	for i, m := range raw.Multiclass {
		exp[i] = m.Expected
	}
	return &g, exp
}

const tol = 1e-9

func num(v any) float64 {
	if v == nil {
		return math.NaN()
	}
	return v.(float64)
}

func close(t *testing.T, what string, got float64, want any) {
	t.Helper()
	w := num(want)
	if math.IsNaN(w) && math.IsNaN(got) {
		return
	}
	if !(math.Abs(got-w) <= tol) {
		t.Errorf("%s = %.17g, sklearn %.17g", what, got, w)
	}
}

func closePRF(t *testing.T, what string, got PRF, want any) {
	t.Helper()
	w := want.([]any)
	close(t, what+".precision", got.Precision, w[0])
	close(t, what+".recall", got.Recall, w[1])
	close(t, what+".f1", got.F1, w[2])
}

func TestGoldenMulticlass(t *testing.T) {
	g, exp := loadGolden(t)
	if len(g.Multiclass) < 40 {
		t.Fatalf("only %d multiclass cases", len(g.Multiclass))
	}
	for ci, c := range g.Multiclass {
		t.Run(c.Name, func(t *testing.T) {
			e := exp[ci]
			pred := Argmax(c.Proba, c.K)
			cm, err := NewConfusion(c.YTrue, pred, c.K)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range c.Expected.Confusion {
				if cm.M[i] != v {
					t.Fatalf("confusion %v, sklearn %v", cm.M, c.Expected.Confusion)
				}
			}
			close(t, "accuracy", cm.Accuracy(), e["accuracy"])
			close(t, "balanced_accuracy", cm.BalancedAccuracy(), e["balanced_accuracy"])
			for _, zd := range []ZeroDivision{0, 1} {
				s := "_0"
				if zd == 1 {
					s = "_1"
				}
				closePRF(t, "micro"+s, cm.Micro(zd), e["micro"+s])
				closePRF(t, "macro"+s, cm.Macro(zd), e["macro"+s])
				closePRF(t, "weighted"+s, cm.Weighted(zd), e["weighted"+s])
				pc := cm.PerClass(zd)
				want := e["per_class"+s].([]any)
				if len(pc) != len(want) {
					t.Fatalf("per-class: %d classes, sklearn %d", len(pc), len(want))
				}
				for i, w := range want {
					w := w.([]any)
					close(t, "precision", pc[i].Precision, w[0])
					close(t, "recall", pc[i].Recall, w[1])
					close(t, "f1", pc[i].F1, w[2])
					close(t, "support", float64(pc[i].Support), w[3])
				}
			}
			ll, err := LogLoss(c.YTrue, c.Proba, c.K)
			if err != nil {
				t.Fatal(err)
			}
			close(t, "log_loss", ll, e["log_loss"])
			close(t, "ece", Calibrate(c.YTrue, c.Proba, c.K, g.ECEBins).ECE, e["ece"])
			if c.K > 2 {
				close(t, "top2", TopK(c.YTrue, c.Proba, c.K, 2), e["top2"])
			}
			o := OneVsRest(c.YTrue, c.Proba, c.K)
			we := e["ovr"].(map[string]any)
			for k := 0; k < c.K; k++ {
				close(t, "roc_auc", o.ROCAUC[k], we["roc_auc"].([]any)[k])
				close(t, "average_precision", o.AveragePrecision[k], we["average_precision"].([]any)[k])
			}
			close(t, "roc_auc_macro", o.ROCAUCMacro, we["roc_auc_macro"])
			close(t, "roc_auc_weighted", o.ROCAUCWeighted, we["roc_auc_weighted"])
			close(t, "pr_auc_macro", o.PRAUCMacro, we["pr_auc_macro"])
			close(t, "pr_auc_weighted", o.PRAUCWeighted, we["pr_auc_weighted"])
		})
	}
}

func TestGoldenBinary(t *testing.T) {
	g, _ := loadGolden(t)
	for _, c := range g.Binary {
		t.Run(c.Name, func(t *testing.T) {
			e := c.Expected
			y := make([]bool, len(c.YTrue))
			pred := make([]int, len(c.YTrue))
			for i, v := range c.YTrue {
				y[i] = v == 1
				if c.P[i] > 0.5 {
					pred[i] = 1
				}
			}
			cm, err := NewConfusion(c.YTrue, pred, 2)
			if err != nil {
				t.Fatal(err)
			}
			close(t, "accuracy", cm.Accuracy(), e["accuracy"])
			for _, zd := range []ZeroDivision{0, 1} {
				key := map[ZeroDivision]string{0: "binary_0", 1: "binary_1"}[zd]
				s := cm.Class(1, zd)
				closePRF(t, key, PRF{s.Precision, s.Recall, s.F1}, e[key])
			}
			ll, err := BinaryLogLoss(y, c.P)
			if err != nil {
				t.Fatal(err)
			}
			close(t, "log_loss", ll, e["log_loss"])
			close(t, "average_precision", AveragePrecision(y, c.P), e["average_precision"])
			if e["pr_precision"] != nil {
				pc := PRCurve(y, c.P)
				wp, wr := e["pr_precision"].([]any), e["pr_recall"].([]any)
				if len(pc.X) != len(wr) {
					t.Fatalf("PR curve has %d points, sklearn %d", len(pc.X), len(wr))
				}
				for i := range wr {
					close(t, "pr recall", pc.X[i], wr[i])
					close(t, "pr precision", pc.Y[i], wp[i])
				}
			}
			auc, err := ROCAUC(y, c.P)
			if e["roc_auc"] == nil {
				if err == nil {
					t.Errorf("ROC AUC %v on one class, want ErrOneClass", auc)
				}
				return
			}
			close(t, "roc_auc", auc, e["roc_auc"])
			// Our curve keeps every distinct threshold: sklearn with drop_intermediate=False.
			rc := ROCCurve(y, c.P)
			fpr, tpr := e["roc_fpr"].([]any), e["roc_tpr"].([]any)
			if len(rc.X) != len(fpr) {
				t.Fatalf("ROC curve has %d points, sklearn %d", len(rc.X), len(fpr))
			}
			for i := range fpr {
				close(t, "fpr", rc.X[i], fpr[i])
				close(t, "tpr", rc.Y[i], tpr[i])
			}
		})
	}
}

func TestGoldenMultilabel(t *testing.T) {
	g, _ := loadGolden(t)
	for _, c := range g.Multilabel {
		t.Run(c.Name, func(t *testing.T) {
			y := make([]bool, len(c.YTrue))
			for i, v := range c.YTrue {
				y[i] = v == 1
			}
			for _, zd := range []ZeroDivision{0, 1} {
				m, err := MultilabelScores(y, c.Scores, c.K, 0.5, zd)
				if err != nil {
					t.Fatal(err)
				}
				s := map[ZeroDivision]string{0: "_0", 1: "_1"}[zd]
				e := c.Expected
				close(t, "subset_accuracy", m.SubsetAccuracy, e["subset_accuracy"])
				close(t, "hamming_loss", m.HammingLoss, e["hamming_loss"])
				closePRF(t, "micro"+s, m.Micro, e["micro"+s])
				closePRF(t, "macro"+s, m.Macro, e["macro"+s])
				closePRF(t, "weighted"+s, m.Weighted, e["weighted"+s])
				closePRF(t, "samples"+s, m.Samples, e["samples"+s])
				close(t, "roc_auc_macro", m.ROCAUCMacro, e["roc_auc_macro"])
				close(t, "pr_auc_macro", m.PRAUCMacro, e["pr_auc_macro"])
			}
		})
	}
}

func TestGoldenRegression(t *testing.T) {
	g, _ := loadGolden(t)
	for _, c := range g.Regression {
		r, err := Regress(c.YTrue, c.YPred)
		if err != nil {
			t.Fatal(err)
		}
		for k, got := range map[string]float64{"mae": r.MAE, "mse": r.MSE, "rmse": r.RMSE, "r2": r.R2, "mape": r.MAPE} {
			w := math.NaN()
			if c.Expected[k] != nil {
				w = *c.Expected[k]
			}
			if math.IsNaN(w) != math.IsNaN(got) || math.Abs(got-w) > tol*math.Max(1, math.Abs(w)) {
				t.Errorf("%s %s = %.17g, sklearn %.17g", c.Name, k, got, w)
			}
		}
	}
}

func TestGoldenMcNemarAndPercentile(t *testing.T) {
	g, _ := loadGolden(t)
	for _, c := range g.McNemar {
		a := make([]bool, 0, c.B+c.C)
		b := make([]bool, 0, c.B+c.C)
		for i := int64(0); i < c.B; i++ {
			a, b = append(a, true), append(b, false)
		}
		for i := int64(0); i < c.C; i++ {
			a, b = append(a, false), append(b, true)
		}
		a, b = append(a, true, false), append(b, true, false) // concordant rows do not count
		m, err := McNemarExact(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if m.B != c.B || m.C != c.C || math.Abs(m.PValue-c.PValue) > tol {
			t.Errorf("b=%d c=%d: p=%.17g, scipy %.17g", c.B, c.C, m.PValue, c.PValue)
		}
	}
	vals := append([]float64(nil), g.Percentile.Values...)
	sortFloats(vals)
	for i, q := range g.Percentile.Q {
		if got := Percentile(vals, q); math.Abs(got-g.Percentile.Expected[i]) > tol {
			t.Errorf("percentile %v = %v, numpy %v", q, got, g.Percentile.Expected[i])
		}
	}
}

func TestBootstrapDelta(t *testing.T) {
	// Model B is right on 90 of 100 rows, A on 80: the delta is 0.1 and the
	// CI must contain it and be reproducible for a fixed seed.
	a := make([]bool, 100)
	b := make([]bool, 100)
	for i := range a {
		a[i] = i < 80
		b[i] = i >= 10
	}
	stat := func(idx []int) (float64, float64) {
		var x, y float64
		for _, i := range idx {
			if a[i] {
				x++
			}
			if b[i] {
				y++
			}
		}
		return x / float64(len(idx)), y / float64(len(idx))
	}
	iv, err := BootstrapDelta(context.Background(), 100, 500, 7, stat)
	if err != nil {
		t.Fatal(err)
	}
	iv2, _ := BootstrapDelta(context.Background(), 100, 500, 7, stat)
	if math.Abs(iv.Value-0.1) > 1e-12 || !(iv.Low < 0.1 && 0.1 < iv.High) || iv != iv2 || iv.High-iv.Low > 0.3 {
		t.Fatalf("interval %+v (second run %+v)", iv, iv2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := BootstrapDelta(ctx, 100, 500, 7, stat); err == nil {
		t.Fatal("cancelled bootstrap returned no error")
	}
}

func TestBadInput(t *testing.T) {
	if _, err := NewConfusion([]int{0, 1}, []int{0}, 2); err == nil {
		t.Error("length mismatch accepted")
	}
	if _, err := NewConfusion([]int{0, 5}, []int{0, 1}, 3); err == nil {
		t.Error("label out of range accepted")
	}
	if _, err := NewConfusion([]int{0, -1}, []int{0, 1}, 3); err == nil {
		t.Error("negative label accepted")
	}
	if _, err := Regress(nil, nil); err == nil {
		t.Error("empty regression accepted")
	}
	if _, err := LogLoss([]int{0}, []float64{1}, 1); err == nil {
		t.Error("one-class log loss accepted")
	}
}
