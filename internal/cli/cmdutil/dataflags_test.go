package cmdutil

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func parseData(t *testing.T, c DataFlagsConfig, args ...string) (*DataFlags, *pflag.FlagSet, error) {
	t.Helper()
	var d DataFlags
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	d.AddFlags(fs, c)
	return &d, fs, fs.Parse(args)
}

func TestDataFlagsDefaultsAndSpec(t *testing.T) {
	d, fs, err := parseData(t, DataFlagsConfig{Data: "evaluation data"},
		"--data", "x.csv", "--labels", "y.npy", "--label-column", "y", "--columns", "a,b", "--input-field", "in=a",
		"--no-header", "--allow-nan", "--scale", "0.5", "--mean", "1,2", "--std", "3,4", "--channels-last", "--reshape", "--limit", "7")
	if err != nil {
		t.Fatal(err)
	}
	if fs.Lookup("batch-size").DefValue != "32" || d.BatchSize != DefaultBatchSize {
		t.Errorf("--batch-size default %s", fs.Lookup("batch-size").DefValue)
	}
	s := d.Spec()
	if s.Path != "x.csv" || s.LabelsPath != "y.npy" || s.LabelColumn != "y" || len(s.Columns) != 2 || s.InputFields["in"] != "a" ||
		!s.NoHeader || !s.AllowNaN || s.BatchSize != 32 || s.Limit != 7 {
		t.Errorf("spec %+v", s)
	}
	if p := s.Preprocess; p.Scale != 0.5 || len(p.Mean) != 2 || p.Std[1] != 4 || !p.ChannelsLast || !p.Reshape {
		t.Errorf("preprocess %+v", p)
	}
	other := d.SpecFor("calib.npy", "")
	if other.Path != "calib.npy" || other.LabelsPath != "" || other.Limit != 0 || other.Preprocess.Scale != 0.5 || other.InputFields["in"] != "a" {
		t.Errorf("SpecFor %+v", other)
	}
	if err := d.Validate(true); err != nil {
		t.Fatal(err)
	}
	if fs.Lookup("val-data") != nil {
		t.Error("--val-data without Validation")
	}
}

func TestDataFlagsAliasesAndOptions(t *testing.T) {
	c := DataFlagsConfig{Data: "labelled data", Validation: true, NoBatchSize: true,
		Aliases: map[string]string{"eval-data": "data", "eval-labels": "labels"}}
	d, fs, err := parseData(t, c, "--eval-data", "x.npy", "--eval-labels", "y.npy", "--val-data", "v.npy", "--val-labels", "vy.npy")
	if err != nil {
		t.Fatal(err)
	}
	if d.Data != "x.npy" || d.Labels != "y.npy" || d.ValData != "v.npy" || d.ValLabels != "vy.npy" {
		t.Fatalf("%+v", d)
	}
	if !fs.Changed("data") || !strings.Contains(fs.Lookup("data").Usage, "(also --eval-data)") || !strings.Contains(fs.Lookup("labels").Usage, "(also --eval-labels)") {
		t.Errorf("data usage %q", fs.Lookup("data").Usage)
	}
	if fs.Lookup("batch-size") != nil {
		t.Error("--batch-size registered with NoBatchSize")
	}
	if err := d.Validate(false); err != nil {
		t.Fatal(err)
	}
}

func TestDataFlagsValidate(t *testing.T) {
	cases := map[string][]string{
		"--batch-size must be positive, got 0":    {"--data", "x", "--batch-size", "0"},
		"--limit must not be negative":            {"--data", "x", "--limit", "-1"},
		"--labels needs --data":                   {"--labels", "y"},
		"--val-labels needs --val-data":           {"--data", "x", "--val-labels", "y"},
		"--scale 0 would turn every input into 0": {"--data", "x", "--scale", "0"},
	}
	for want, args := range cases {
		d, _, err := parseData(t, DataFlagsConfig{Validation: true}, args...)
		if err != nil {
			t.Fatal(err)
		}
		err = d.Validate(true)
		var fe *FlagError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want %q", args, err, want)
		}
	}
	d, _, _ := parseData(t, DataFlagsConfig{})
	if err := d.RequireLabelled(); err == nil || !strings.Contains(err.Error(), "--data is required") {
		t.Errorf("no data: %v", err)
	}
	d.Data = "x.npy"
	if err := d.RequireLabelled(); err == nil || !strings.Contains(err.Error(), "labels are required") {
		t.Errorf("no labels: %v", err)
	}
	d.LabelColumn = "y"
	if err := d.RequireLabelled(); err != nil || !d.HasLabels() {
		t.Errorf("label column: %v", err)
	}
}
