package tune

import (
	"strings"
	"testing"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/space"
)

// issueExample is the study file from the issue, verbatim.
const issueExample = `version: 1
study: fmnist-lr                  # a journal refuses a study of another name
storage: runs/fmnist-lr.jsonl     # a path or a blob URL (s3://, gs://, azblob://, file://)
objectives:
  - {metric: val_loss, direction: minimize}
parameters:
  lr:       {type: float, low: 1.0e-5, high: 0.1, log: true}
  layers:   {type: int, low: 1, high: 4}
  opt:      {type: categorical, choices: [sgd, adam]}
  momentum: {type: float, low: 0.5, high: 0.99, when: {opt: sgd}}
sampler: {name: tpe, seed: 1}     # grid | random | tpe | nsga2 (or motpe)
pruner: {name: asha}              # none | median | asha
budget: {trials: 100, time: 2h}
parallelism: 2
trial:
  command: [python3, train.py, --lr, "${lr}", --opt, "${opt}", "--layers=${layers}", "--momentum=${momentum}"]
  timeout: 10m
`

func TestParseIssueExample(t *testing.T) {
	s, err := ParseSpec([]byte(issueExample), "/work/study")
	if err != nil {
		t.Fatal(err)
	}
	if s.Study != "fmnist-lr" || s.Storage != "/work/study/runs/fmnist-lr.jsonl" || s.Budget.Trials != 100 || s.Budget.Time != 2*time.Hour ||
		s.Parallelism != 2 || s.Trial.Timeout != 10*time.Minute || s.Sampler.Name != "tpe" || s.Sampler.Seed != 1 || !s.SeedSet || s.Pruner.Name != "asha" {
		t.Fatalf("%+v", s)
	}
	names := []string{}
	for _, p := range s.Space.Params {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "lr,layers,opt,momentum" {
		t.Fatalf("declaration order lost: %v", names)
	}
	m, _ := s.Space.Param("momentum")
	if len(m.When) != 1 || m.When[0].Param != "opt" || m.When[0].Values[0] != "sgd" {
		t.Fatalf("when: %+v", m.When)
	}
	lr, _ := s.Space.Param("lr")
	if lr.Low != 1e-5 || !lr.Log {
		t.Fatalf("lr %+v", lr)
	}
}

func TestSpecErrors(t *testing.T) {
	base := func(repl ...string) string {
		s := issueExample
		for i := 0; i+1 < len(repl); i += 2 {
			if !strings.Contains(s, repl[i]) {
				panic(repl[i])
			}
			s = strings.Replace(s, repl[i], repl[i+1], 1)
		}
		return s
	}
	cases := []struct{ yaml, want string }{
		{base("sampler: {name: tpe, seed: 1}", "sampeler: {name: tpe}"), `line 11: unknown key "sampeler" at the top level (valid keys: version, study, storage,`},
		{base("seed: 1}", "seed: 1, n_startup: 5}"), `line 11: unknown key "n_startup" in sampler (valid keys: name, seed, startup_trials`},
		{base("layers:   {type: int, low: 1, high: 4}", "layers:   {type: int, low: 1, high: 4, stp: 1}"), `line 8: unknown key "stp" in parameters.layers`},
		{base("timeout: 10m", "timeout: 10m\n  comand: [x]"), `unknown key "comand" in trial`},
		{base("name: tpe, seed: 1", "name: bayes"), `unknown sampler "bayes": use grid, random, tpe, cmaes or nsga2`},
		{base("{name: asha}", "{name: hyperband}"), `unknown pruner "hyperband": use none, median or asha`},
		{base("version: 1", "version: 2"), "version 2 is not supported"},
		{base("version: 1\n", ""), "version is missing"},
		{base(`"${lr}"`, `"${lrr}"`), "trial.command[3]: ${lrr} is not a declared parameter (declared: lr, layers, opt, momentum"},
		{base(`, "--momentum=${momentum}"`, ""), "parameter momentum is declared but never used in the trial"},
		{base("direction: minimize", "direction: lower"), `direction "lower": use minimize or maximize`},
		{base("time: 2h", "time: 2 hours"), `budget.time "2 hours": use a duration`},
		{base("study: fmnist-lr ", "study: fmnist lr "), `study "fmnist lr"`},
		{base("low: 0.5, high: 0.99, when: {opt: sgd}", "low: 0.5, high: 0.99, when: {opt: rmsprop}"), "when: opt: rmsprop is not one of the choices [sgd, adam]"},
		{"version: 1\nstudy: s\nobjectives: [{metric: y, direction: minimize}]\nparameters: {}\ntrial: {command: [true]}\n", "the search space is empty"},
		{"version: 1\nstudy: s\nobjectives: [{metric: y, direction: minimize}]\nparameters: {x: {type: float}}\ntrial: {command: [true, '${x}']}\n", "parameter x: a float parameter needs low: and high:"},
		{"version: 1\nstudy: s\nobjectives: [{metric: y, direction: minimize}]\nparameters: {x: {type: float, low: 0, high: 1}}\nsampler: grid\ntrial: {command: [echo, '${x}']}\n", "sampler grid: parameter x is a continuous float: give it step: or grid:"},
		{"version: 1\nstudy: s\nobjectives: [{metric: y, direction: minimize}]\nparameters: {x: {type: float, low: 0, high: 1}}\ntrial: {}\n", "trial: say what a trial runs"},
		{"- a\n- b\n", "line 1: a study file is a mapping"},
		{"version: 1\n  study: [\n", "line 2"},
		{"", "the study file is empty"},
	}
	for _, c := range cases {
		_, err := ParseSpec([]byte(c.yaml), "/d")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want %q, got %v\n%s", c.want, err, c.yaml)
		}
	}
}

func TestSpecDefaultsAndShorthands(t *testing.T) {
	s, err := ParseSpec([]byte(`version: 1
study: s
objectives: [{metric: a, direction: minimize}, {metric: b, direction: maximize}]
parameters:
  x: {type: float, low: 0, high: 1}
  c: {type: categorical, choices: [1, 2.5, "three", true]}
pruner: none
trial:
  command: [prog, "${x}"]
  env: {C: "${c}", N: "${trial.number}"}
`), "/d")
	if err != nil {
		t.Fatal(err)
	}
	if s.Sampler.Name != "nsga2" || s.Storage != "/d/s.jsonl" || s.Parallelism != 1 || s.Heartbeat != DefaultHeartbeat || s.Trial.Dir != "/d" {
		t.Fatalf("defaults %+v", s)
	}
	c, _ := s.Space.Param("c")
	if c.Choices[0] != 1.0 || c.Type != space.Categorical {
		t.Fatalf("choices %v", c.Choices)
	}
	if _, err := ParseSpec([]byte(strings.Replace(issueExample, "{name: asha}", "{name: asha, min_resource: auto, reduction_factor: 3}", 1)), "/d"); err != nil {
		t.Fatal(err)
	}
}

func TestParseMetricLine(t *testing.T) {
	good := []struct {
		line  string
		name  string
		value float64
		step  int64
		has   bool
	}{
		{"mlops-metric val_loss=888", "val_loss", 888, 0, false},
		{"mlops-metric lr=1e-5", "lr", 1e-5, 0, false},
		{"mlops-metric acc=.98", "acc", 0.98, 0, false},
		{"mlops-metric delta=-3", "delta", -3, 0, false},
		{"  mlops-metric val/acc = 0.5  step=12 ", "val/acc", 0.5, 12, true},
		{"mlops-metric step_time=3 step=0", "step_time", 3, 0, true},
		{"mlops-metric a=+2.5E+3", "a", 2500, 0, false},
	}
	for _, g := range good {
		m, ok, err := ParseMetricLine(g.line)
		if !ok || err != nil || m.Name != g.name || m.Value != g.value || m.Step != g.step || m.HasStep != g.has {
			t.Errorf("%q: %+v %v %v", g.line, m, ok, err)
		}
	}
	for _, l := range []string{"epoch 3 loss=0.5", "mlops-metrics a=1", "", "val_loss=0.3"} {
		if _, ok, err := ParseMetricLine(l); ok || err != nil {
			t.Errorf("%q read as a metric line", l)
		}
	}
	bad := map[string]string{
		"mlops-metric loss=nan":        "loss is NaN",
		"mlops-metric loss=inf":        "loss is +Inf",
		"mlops-metric loss=-Infinity":  "loss is -Inf",
		"mlops-metric loss=0.5,":       `"0.5," is not a number`,
		"mlops-metric loss=":           `"" is not a number`,
		"mlops-metric loss=8 8":        "cannot read metric line",
		"mlops-metric loss=1 step=1.5": `step "1.5" is not a non-negative integer`,
		"mlops-metric loss=1 step=-1":  `step "-1"`,
		"mlops-metric 1oss=1":          `bad metric name "1oss"`,
	}
	for l, want := range bad {
		_, ok, err := ParseMetricLine(l)
		if !ok || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: ok=%v err=%v, want %q", l, ok, err, want)
		}
	}
}

func TestTemplates(t *testing.T) {
	sp, _ := space.New([]space.Param{{Name: "lr", Type: space.Float, Low: 1e-5, High: 1, Log: true}, {Name: "n", Type: space.Int, Low: 1, High: 9}})
	look := valueLookup(sp, space.Params{"lr": 1e-3, "n": 3.0}, 7, "/t/7", "s")
	for in, want := range map[string]string{
		"--lr=${lr}": "--lr=0.001", "${n}": "3", "${trial.number}-${study}": "7-s", "$$HOME": "$HOME", "${missing:-x}": "x", "a$b": "a$b",
	} {
		tp, err := parseTemplate(in)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := tp.expand(look); !ok || got != want {
			t.Errorf("%q → %q %v, want %q", in, got, ok, want)
		}
	}
	tp, _ := parseTemplate("--m=${momentum}")
	if _, ok := tp.expand(look); ok {
		t.Error("an inactive parameter without default must drop the argument")
	}
	if _, err := parseTemplate("${lr"); err == nil {
		t.Error("unclosed ${ accepted")
	}
}

// ParseSpaceForTest builds a one-float space.
func ParseSpaceForTest(name string, low, high float64) (*space.Space, error) {
	return space.New([]space.Param{{Name: name, Type: space.Float, Low: low, High: high}})
}
