package report

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

func testStudy(t *testing.T, objectives int) *study.Study {
	sp, err := space.New([]space.Param{
		{Name: "lr", Type: space.Float, Low: 1e-4, High: 1, Log: true},
		{Name: "noise", Type: space.Float, Low: 0, High: 1},
		{Name: "opt", Type: space.Categorical, Choices: []any{"sgd", "adam"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	objs := []study.Objective{{Metric: "loss", Direction: study.Minimize}, {Metric: "size", Direction: study.Minimize}}[:objectives]
	st := &study.Study{Name: "r", Objectives: objs, Space: sp}
	for i := 0; i < 60; i++ {
		lr := math.Pow(10, -4+4*float64(i%10)/9)
		noise := float64((i*7)%11) / 10
		opt := []any{"sgd", "adam"}[i%2]
		loss := math.Abs(math.Log10(lr)+2) + 0.01*noise // lr matters, noise hardly, opt not at all
		tr := &study.Trial{Number: i, State: study.Complete, Params: space.Params{"lr": lr, "noise": noise, "opt": opt},
			Values: []float64{loss, 2 - loss}[:objectives], Intermediate: []study.Intermediate{{Step: 1, Value: loss + 1}, {Step: 2, Value: loss + 0.5}}}
		if i%9 == 4 {
			tr.State, tr.Values = study.Pruned, nil
		}
		st.Trials = append(st.Trials, tr)
	}
	return st
}

func TestImportanceFindsTheParameterThatMatters(t *testing.T) {
	imp := Build(testStudy(t, 1), "x.jsonl", time.Now()).Importance
	if len(imp) != 3 || imp[0].Param != "lr" || imp[0].Share < 0.8 {
		t.Fatalf("%+v", imp)
	}
}

func TestPlotsAndHTML(t *testing.T) {
	for _, n := range []int{1, 2} {
		r := Build(testStudy(t, n), "runs/r.jsonl", time.Now())
		dir := t.TempDir()
		files, err := WritePlots(context.Background(), r, dir)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"optimization_history.png", "parallel_coordinates.svg", "param_importance.png", "intermediate_values.png"}
		if n == 2 {
			want = append(want, "pareto_front.png")
		}
		for _, w := range want {
			if st, err := os.Stat(filepath.Join(dir, w)); err != nil || st.Size() < 1000 {
				t.Errorf("%d objectives: %s: %v (%d files)", n, w, err, len(files))
			}
		}
		page := filepath.Join(dir, "report.html")
		if err := WriteHTML(context.Background(), r, page); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(page)
		s := string(b)
		if !strings.Contains(s, "data:image/png;base64,") || !strings.Contains(s, "<b>r</b>") {
			t.Fatalf("page:\n%.500s", s)
		}
		if n == 1 && !strings.Contains(s, "Best trial: ") {
			t.Fatal("no best trial on the page")
		}
		if n == 2 && !strings.Contains(s, "Pareto front (") {
			t.Fatal("no Pareto front on the page")
		}
	}
}
