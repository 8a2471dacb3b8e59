package inspect

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mlops-dev/mlops/internal/cli/cmdutil"
	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

func TestNewCmdInspectFlags(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: io}
	var got *InspectOptions
	cmd := NewCmdInspect(f, func(o *InspectOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"model.onnx", "--check"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Model != "model.onnx" || !got.Check {
		t.Fatalf("options = %+v", got)
	}

	cmd = NewCmdInspect(f, func(*InspectOptions) error { t.Fatal("ran without a model"); return nil })
	cmd.SetArgs([]string{})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Fatalf("no MODEL: err = %v, want usage error", err)
	}
}

// brokenModel uses a value nobody produces and an opset domain nobody imports.
func brokenModel(t *testing.T) string {
	t.Helper()
	s := func(v string) *string { return &v }
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: s("broken"),
			Node: []*onnxpb.NodeProto{
				{OpType: s("Relu"), Input: []string{"ghost"}, Output: []string{"y"}, Name: s("relu")},
				{OpType: s("Custom"), Domain: s("com.nowhere"), Input: []string{"y"}, Output: []string{"z"}, Name: s("custom")},
			},
			Output: []*onnxpb.ValueInfoProto{{Name: s("z"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
				TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(1)}}}}},
		},
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "broken.onnx")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspectCheckReportsProblems(t *testing.T) {
	model := brokenModel(t)

	io, _, out, _ := cmdutil.Test()
	err := inspectRun(&InspectOptions{IO: io, Format: jsonFormat, Model: model, Check: true})
	if cmdutil.ExitCode(err) != cmdutil.ExitError || !strings.Contains(err.Error(), "problem") {
		t.Fatalf("err = %v, want a check failure (exit 1)", err)
	}
	var r Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Check == nil || r.Check.OK || len(r.Check.Problems) < 2 {
		t.Fatalf("check = %+v, want at least 2 problems", r.Check)
	}
	all := compact(r.Check.Problems)
	for _, want := range []string{"ghost", "com.nowhere"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems %s do not mention %q", all, want)
		}
	}

	// Without --check the same model is described and the command succeeds.
	io, _, out, _ = cmdutil.Test()
	if err := inspectRun(&InspectOptions{IO: io, Format: tableFormat, Model: model}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "com.nowhere.Custom") {
		t.Errorf("custom-domain op not listed as domain:op:\n%s", out)
	}
}

func TestInspectCheckOK(t *testing.T) {
	io, _, out, _ := cmdutil.Test()
	if err := inspectRun(&InspectOptions{IO: io, Format: tableFormat, Model: "testdata/sample/sample.onnx", Check: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ok: no problems found", "weights.bin", "[batch, 16]", "[?, 3]", "author", "3 inside subgraphs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestInspectBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.onnx")
	if err := os.WriteFile(corrupt, []byte("\x0a\xff\xff\xff\xff\x0fnot a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ path, want string }{
		"missing": {filepath.Join(dir, "nope.onnx"), "no such file"},
		"corrupt": {corrupt, "not a valid ONNX model"},
		"folder":  {dir, "is a folder"},
	} {
		t.Run(name, func(t *testing.T) {
			io, _, out, _ := cmdutil.Test()
			err := inspectRun(&InspectOptions{IO: io, Format: tableFormat, Model: tc.path})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed a partial report: %q", out)
			}
		})
	}
}

func TestHumanFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 235146: "235,146", 1234567890: "1,234,567,890"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{512: "512 B", 1024: "1.0 KiB", 940544: "918.5 KiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func tableFormat() (cmdutil.Format, error) { return cmdutil.FormatTable, nil }
