package tune

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mlops-dev/mlops/internal/gate"
	"github.com/mlops-dev/mlops/internal/tune/pruner"
	"github.com/mlops-dev/mlops/internal/tune/sampler"
	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// SpecVersion is the study file format this mlops reads.
const SpecVersion = 1

// Spec is a validated study file.
type Spec struct {
	Path        string // the file it came from ("" for one built in code)
	Dir         string // relative paths in the file are relative to this folder
	Study       string
	Storage     string // a local path (absolute) or a blob URL
	Objectives  []study.Objective
	Space       *space.Space
	Sampler     sampler.Config
	SeedSet     bool // sampler.seed was given
	Pruner      pruner.Config
	Budget      Budget
	Parallelism int
	Heartbeat   time.Duration
	// Constraints are gates every trial must pass to be feasible ("accuracy_drop<=0.003"): an
	// infeasible trial is COMPLETE but never the best, nor on the Pareto front.
	Constraints []gate.Expr
	Trial       TrialSpec
}

// Budget bounds a study: Trials is the study's total of finished trials (complete or pruned,
// over every run and worker); Time bounds one `tune run` invocation.
type Budget struct {
	Trials int
	Time   time.Duration
}

// TrialSpec says what one trial runs: an external program (Kind "command") or one of mlops'
// own steps in process (retrain, quantize, prune) given as that command's flags.
type TrialSpec struct {
	Kind        string            // TrialCommand, TrialRetrain, TrialQuantize or TrialPrune
	Command     []string          // command: program and arguments, ${param} substituted
	Flags       []TrialFlag       // retrain/quantize/prune: the command's flags in file order
	Env         map[string]string // command: extra environment, ${param} substituted
	Timeout     time.Duration     // per trial, every kind (0: none)
	Dir         string            // command: working directory (default: the study file's folder)
	MetricsFile string            // command: JSON file the program may write its metrics to
}

// DefaultHeartbeat is how often a worker renews its running trials' leases; a trial whose
// worker is silent for 1.5 periods is failed and its slot retried.
const DefaultHeartbeat = 10 * time.Second

type specYAML struct {
	Version     int                  `yaml:"version"`
	Study       string               `yaml:"study"`
	Storage     string               `yaml:"storage"`
	Objectives  []objectiveYAML      `yaml:"objectives"`
	Parameters  map[string]paramYAML `yaml:"parameters"`
	Sampler     samplerYAML          `yaml:"sampler"`
	Pruner      prunerYAML           `yaml:"pruner"`
	Budget      budgetYAML           `yaml:"budget"`
	Parallelism int                  `yaml:"parallelism"`
	Heartbeat   string               `yaml:"heartbeat"`
	Constraints []string             `yaml:"constraints"`
	Trial       trialYAML            `yaml:"trial"`
}

type objectiveYAML struct {
	Metric    string `yaml:"metric"`
	Direction string `yaml:"direction"`
}

type paramYAML struct {
	Type    string         `yaml:"type"`
	Low     *float64       `yaml:"low"`
	High    *float64       `yaml:"high"`
	Log     bool           `yaml:"log"`
	Step    float64        `yaml:"step"`
	Choices []any          `yaml:"choices"`
	Grid    []any          `yaml:"grid"`
	When    map[string]any `yaml:"when"`
}

type samplerYAML struct {
	Name          string  `yaml:"name"`
	Seed          *uint64 `yaml:"seed"`
	StartupTrials int     `yaml:"startup_trials"`
	EICandidates  int     `yaml:"ei_candidates"`
	Multivariate  *bool   `yaml:"multivariate"`
	ConstantLiar  *bool   `yaml:"constant_liar"`
	PriorWeight   float64 `yaml:"prior_weight"`
	Sigma0        float64 `yaml:"sigma0"`
	Population    int     `yaml:"population"`
	MutationProb  float64 `yaml:"mutation_prob"`
	CrossoverProb float64 `yaml:"crossover_prob"`
	SwappingProb  float64 `yaml:"swapping_prob"`
	Shuffle       bool    `yaml:"shuffle"` // grid
}

// UnmarshalYAML accepts `sampler: tpe` as well as the mapping.
func (s *samplerYAML) UnmarshalYAML(n *yaml.Node) error {
	type plain samplerYAML
	return nameOrMapping(n, &s.Name, (*plain)(s))
}

// nameOrMapping decodes a scalar into name, or a mapping into v.
func nameOrMapping(n *yaml.Node, name *string, v any) error {
	if n.Kind == yaml.ScalarNode {
		*name = n.Value
		return nil
	}
	return n.Decode(v)
}

type prunerYAML struct {
	Name                 string `yaml:"name"`
	StartupTrials        int    `yaml:"startup_trials"`
	WarmupSteps          int64  `yaml:"warmup_steps"`
	IntervalSteps        int64  `yaml:"interval_steps"`
	MinResource          any    `yaml:"min_resource"`
	ReductionFactor      int    `yaml:"reduction_factor"`
	MinEarlyStoppingRate int    `yaml:"min_early_stopping_rate"`
}

// UnmarshalYAML accepts `pruner: median` as well as the mapping.
func (p *prunerYAML) UnmarshalYAML(n *yaml.Node) error {
	type plain prunerYAML
	return nameOrMapping(n, &p.Name, (*plain)(p))
}

type budgetYAML struct {
	Trials int    `yaml:"trials"`
	Time   string `yaml:"time"`
}

type trialYAML struct {
	Command     []string          `yaml:"command"`
	Retrain     flagsYAML         `yaml:"retrain"`
	Quantize    flagsYAML         `yaml:"quantize"`
	Prune       flagsYAML         `yaml:"prune"`
	Env         map[string]string `yaml:"env"`
	Timeout     string            `yaml:"timeout"`
	Dir         string            `yaml:"dir"`
	MetricsFile string            `yaml:"metrics_file"`
}

var (
	studyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	metricRE    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-/]*$`)
	lineRE      = regexp.MustCompile(`^yaml: line (\d+): `)
)

// LoadOptions adjust how a study file is checked.
type LoadOptions struct {
	// CheckFlags validates the flags of an in-process trial (kind retrain, quantize or prune)
	// against that command's real flag set, which only the CLI knows. It returns an error
	// naming the flag and the valid ones; the spec adds the line. nil: flags are not checked.
	CheckFlags func(kind string, flags []TrialFlag) error
}

// LoadSpec reads and validates a study file (in-process trial flags unchecked: see
// LoadSpecWith).
func LoadSpec(path string) (*Spec, error) { return LoadSpecWith(path, LoadOptions{}) }

// LoadSpecWith reads and validates a study file.
func LoadSpecWith(path string, o LoadOptions) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read study file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	s, err := ParseSpecWith(data, filepath.Dir(abs), o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Path = abs
	return s, nil
}

// ParseSpec validates a study file's content; relative paths resolve against dir.
func ParseSpec(data []byte, dir string) (*Spec, error) {
	return ParseSpecWith(data, dir, LoadOptions{})
}

// ParseSpecWith is ParseSpec with options. Its errors are *SpecError: the file is wrong.
func ParseSpecWith(data []byte, dir string, o LoadOptions) (*Spec, error) {
	s, err := parseSpec(data, dir, o)
	if err != nil {
		return nil, &SpecError{Err: err}
	}
	return s, nil
}

// SpecError is a study file that does not validate (as opposed to one that cannot be read):
// the CLI reports it as a usage error.
type SpecError struct{ Err error }

func (e *SpecError) Error() string { return e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }

func parseSpec(data []byte, dir string, o LoadOptions) (*Spec, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("the study file is empty: start with version: %d and study: NAME", SpecVersion)
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: a study file is a mapping (version:, study:, parameters:, ...)", doc.Content[0].Line)
	}
	if err := checkKeys(&doc, reflect.TypeOf(specYAML{}), ""); err != nil {
		return nil, err
	}
	var y specYAML
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&y); err != nil {
		return nil, yamlError(err)
	}
	switch {
	case y.Version == 0:
		return nil, fmt.Errorf("version is missing: add version: %d", SpecVersion)
	case y.Version != SpecVersion:
		return nil, fmt.Errorf("version %d is not supported: this mlops reads version %d study files", y.Version, SpecVersion)
	}
	s := &Spec{Dir: dir, Study: y.Study, Parallelism: y.Parallelism}
	if !studyNameRE.MatchString(s.Study) {
		if s.Study == "" {
			return nil, fmt.Errorf("study: is missing: name the study (letters, digits, '.', '_', '-')")
		}
		return nil, fmt.Errorf("study %q: use letters, digits, '.', '_' and '-'", s.Study)
	}
	switch {
	case y.Storage == "":
		s.Storage = filepath.Join(dir, s.Study+".jsonl")
	case strings.Contains(y.Storage, "://"):
		s.Storage = y.Storage
	case filepath.IsAbs(y.Storage):
		s.Storage = filepath.Clean(y.Storage)
	default:
		s.Storage = filepath.Join(dir, y.Storage)
	}
	if len(y.Objectives) == 0 {
		return nil, fmt.Errorf("objectives: is missing: e.g. objectives: [{metric: val_loss, direction: minimize}]")
	}
	for i, o := range y.Objectives {
		if !metricRE.MatchString(o.Metric) {
			return nil, fmt.Errorf("objectives[%d]: metric %q: use a metric name such as val_loss (letters, digits, _ . - /)", i, o.Metric)
		}
		d := study.Direction(o.Direction)
		if d != study.Minimize && d != study.Maximize {
			return nil, fmt.Errorf("objectives[%d] (%s): direction %q: use minimize or maximize", i, o.Metric, o.Direction)
		}
		if slices.ContainsFunc(s.Objectives, func(x study.Objective) bool { return x.Metric == o.Metric }) {
			return nil, fmt.Errorf("objectives: %s is listed twice", o.Metric)
		}
		s.Objectives = append(s.Objectives, study.Objective{Metric: o.Metric, Direction: d})
	}
	var err error
	if s.Space, err = buildSpace(mappingKeys(&doc, "parameters"), y.Parameters); err != nil {
		return nil, err
	}
	if err := s.setSampler(y.Sampler); err != nil {
		return nil, err
	}
	if err := s.setPruner(y.Pruner); err != nil {
		return nil, err
	}
	if y.Budget.Trials < 0 {
		return nil, fmt.Errorf("budget.trials must be positive")
	}
	s.Budget.Trials = y.Budget.Trials
	if s.Budget.Time, err = duration("budget.time", y.Budget.Time); err != nil {
		return nil, err
	}
	if s.Parallelism < 0 {
		return nil, fmt.Errorf("parallelism must be positive")
	}
	if s.Parallelism == 0 {
		s.Parallelism = 1
	}
	if s.Heartbeat, err = duration("heartbeat", y.Heartbeat); err != nil {
		return nil, err
	}
	if s.Heartbeat == 0 {
		s.Heartbeat = DefaultHeartbeat
	}
	if s.Constraints, err = parseConstraints(y.Constraints); err != nil {
		return nil, err
	}
	if err := s.setTrial(y.Trial, o); err != nil {
		return nil, err
	}
	return s, nil
}

// yamlError turns a YAML syntax error into "line N: ...".
func yamlError(err error) error {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("line %s: %s", m[1], strings.TrimPrefix(msg, m[0]))
	}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return errors.New(strings.Join(te.Errors, "; "))
	}
	return fmt.Errorf("not valid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}

func duration(key, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q: use a duration such as 90s, 10m or 2h", key, v)
	}
	return d, nil
}

func buildSpace(order []string, in map[string]paramYAML) (*space.Space, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("the search space is empty: declare parameters:, e.g. lr: {type: float, low: 1.0e-5, high: 0.1, log: true}")
	}
	var ps []space.Param
	for _, name := range order {
		y := in[name]
		p := space.Param{Name: name, Type: space.Type(y.Type), Log: y.Log, Step: y.Step,
			Choices: canon(y.Choices), Grid: canon(y.Grid)}
		if p.Type == space.Int || p.Type == space.Float {
			if y.Low == nil || y.High == nil {
				return nil, fmt.Errorf("parameter %s: %s %s parameter needs low: and high:", name, map[space.Type]string{space.Int: "an", space.Float: "a"}[p.Type], p.Type) //nolint:revive // ends with the YAML keys to write
			}
			p.Low, p.High = *y.Low, *y.High
		} else if y.Low != nil || y.High != nil {
			return nil, fmt.Errorf("parameter %s: low and high do not apply to %s parameters", name, orType(p.Type))
		}
		conds := make([]string, 0, len(y.When))
		for k := range y.When {
			conds = append(conds, k)
		}
		slices.Sort(conds)
		for _, k := range conds {
			v := y.When[k]
			vals, ok := v.([]any)
			if !ok {
				vals = []any{v}
			}
			p.When = append(p.When, space.Condition{Param: k, Values: canon(vals)})
		}
		ps = append(ps, p)
	}
	return space.New(ps)
}

func orType(t space.Type) string {
	if t == "" {
		return "untyped"
	}
	return string(t)
}

// canon converts YAML scalars to the space's canonical values (numbers as float64).
func canon(vs []any) []any {
	if vs == nil {
		return nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		switch x := v.(type) {
		case int:
			out[i] = float64(x)
		case int64:
			out[i] = float64(x)
		case uint64:
			out[i] = float64(x)
		default:
			out[i] = v
		}
	}
	return out
}

func (s *Spec) setSampler(y samplerYAML) error {
	c := sampler.Config{Name: y.Name, Shuffle: y.Shuffle, StartupTrials: y.StartupTrials, EICandidates: y.EICandidates,
		Multivariate: y.Multivariate, ConstantLiar: y.ConstantLiar, PriorWeight: y.PriorWeight, Sigma0: y.Sigma0,
		Population: y.Population, MutationProb: y.MutationProb, CrossoverProb: y.CrossoverProb, SwappingProb: y.SwappingProb}
	if c.Name == "" {
		c.Name = "tpe"
		if len(s.Objectives) > 1 {
			c.Name = "nsga2"
		}
	}
	if !slices.Contains(sampler.Names, c.Name) {
		return fmt.Errorf("unknown sampler %q: use grid, random, tpe, cmaes or nsga2 (motpe is tpe with several objectives)", c.Name)
	}
	if y.Seed != nil {
		c.Seed, s.SeedSet = *y.Seed, true
	}
	if c.Shuffle && c.Name != "grid" {
		return fmt.Errorf("sampler.shuffle applies to the grid sampler, not %s", c.Name)
	}
	for _, f := range []struct {
		name string
		v    float64
		max  float64
	}{{"startup_trials", float64(y.StartupTrials), math.Inf(1)}, {"ei_candidates", float64(y.EICandidates), math.Inf(1)},
		{"prior_weight", y.PriorWeight, math.Inf(1)}, {"sigma0", y.Sigma0, math.Inf(1)}, {"population", float64(y.Population), math.Inf(1)},
		{"mutation_prob", y.MutationProb, 1}, {"crossover_prob", y.CrossoverProb, 1}, {"swapping_prob", y.SwappingProb, 1}} {
		if f.v < 0 || f.v > f.max || math.IsNaN(f.v) {
			return fmt.Errorf("sampler.%s %v is out of range", f.name, f.v)
		}
	}
	if _, err := sampler.New(c, s.Space, s.Objectives); err != nil {
		return err
	}
	s.Sampler = c
	return nil
}

func (s *Spec) setPruner(y prunerYAML) error {
	c := pruner.Config{Name: y.Name, StartupTrials: y.StartupTrials, WarmupSteps: y.WarmupSteps, IntervalSteps: y.IntervalSteps,
		ReductionFactor: y.ReductionFactor, MinEarlyStoppingRate: y.MinEarlyStoppingRate}
	switch v := y.MinResource.(type) {
	case nil:
	case string:
		if v != "auto" {
			return fmt.Errorf("pruner.min_resource %q: use a step number or auto", v)
		}
	case int:
		if v < 1 {
			return fmt.Errorf("pruner.min_resource must be at least 1")
		}
		c.MinResource = int64(v)
	default:
		return fmt.Errorf("pruner.min_resource %v: use a step number or auto", v)
	}
	if _, err := pruner.New(c); err != nil {
		return err
	}
	if c.Name != "" && c.Name != "none" && len(s.Objectives) > 1 {
		return fmt.Errorf("pruner %s works on one objective; this study has %d (use pruner: none)", c.Name, len(s.Objectives))
	}
	s.Pruner = c
	return nil
}

func (s *Spec) setTrial(y trialYAML, o LoadOptions) error {
	t := TrialSpec{Kind: TrialCommand, Command: y.Command, Env: y.Env, Dir: y.Dir, MetricsFile: y.MetricsFile}
	kinds := []string{}
	if y.Command != nil {
		kinds = append(kinds, "command")
	}
	for _, k := range []struct {
		name string
		set  bool
	}{{TrialRetrain, y.Retrain.set}, {TrialQuantize, y.Quantize.set}, {TrialPrune, y.Prune.set}} {
		if k.set {
			kinds = append(kinds, k.name)
			t.Kind = k.name
		}
	}
	switch len(kinds) {
	case 0:
		return fmt.Errorf("trial: say what a trial runs: command: [program, args...], or quantize:, prune: or retrain: with that command's flags")
	case 1:
	default:
		return fmt.Errorf("trial: give one of command:, retrain:, quantize: or prune:, not %s", strings.Join(kinds, " and "))
	}
	var err error
	if t.Timeout, err = duration("trial.timeout", y.Timeout); err != nil {
		return err
	}
	if t.Kind != TrialCommand {
		return s.setInProcessTrial(t, y, o)
	}
	if len(t.Command) == 0 {
		return fmt.Errorf("trial: say what a trial runs: command: [program, args...]")
	}
	switch {
	case t.Dir == "":
		t.Dir = s.Dir
	case !filepath.IsAbs(t.Dir):
		t.Dir = filepath.Join(s.Dir, t.Dir)
	}
	refs := map[string][]string{}
	for i, a := range t.Command {
		tp, err := parseTemplate(a)
		if err != nil {
			return fmt.Errorf("trial.command[%d]: %w", i, err)
		}
		refs[fmt.Sprintf("trial.command[%d]", i)] = tp.refs()
	}
	if ts, err := parseTemplate(t.Command[0]); err == nil && len(ts.refs()) > 0 {
		return fmt.Errorf("trial.command[0]: the program cannot be a ${parameter}")
	}
	for k, v := range t.Env {
		tp, err := parseTemplate(v)
		if err != nil {
			return fmt.Errorf("trial.env.%s: %w", k, err)
		}
		refs["trial.env."+k] = tp.refs()
	}
	if err := checkRefs(s.Space, refs); err != nil {
		return err
	}
	s.Trial = t
	return nil
}
