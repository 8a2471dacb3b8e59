package cmdutil

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// A tree of two commands whose flags share names: each command's keys reach
// only its own flags, with the value types the flags have.
func TestApplyToFlags(t *testing.T) {
	root := &cobra.Command{Use: "mlops"}
	root.PersistentFlags().Bool("quiet", false, "")
	serve := &cobra.Command{Use: "serve"}
	sf := serve.Flags()
	sf.String("addr", "127.0.0.1:8080", "")
	sf.Int("max-batch-size", 32, "")
	sf.Duration("poll", 0, "")
	sf.StringSlice("op-types", []string{"Conv"}, "")
	sf.StringArray("gate", nil, "")
	sf.StringToString("input-field", nil, "")
	sf.Float64Slice("mean", nil, "")
	quantize := &cobra.Command{Use: "quantize"}
	quantize.Flags().String("addr", "q-default", "")
	root.AddCommand(serve, quantize)

	schema := &ConfigSchema{}
	schema.Declare(GlobalConfigKeys()...)
	schema.Declare(ConfigKey{Name: "quiet", Default: false, Flag: "quiet"})
	DeclareCommandFlags(schema, root)

	dir := t.TempDir()
	file := writeFile(t, dir, "c.yaml", `
serve:
  addr: file:1
  max_batch_size: 8
  poll: 30s
  op_types: [MatMul, Gemm]
  gate: ["accuracy>=0.5", "f1_macro>=0.4,x"]
  input_field: {Image: Pixels, mask: M}
  mean: [0.5, 0.25]
quantize:
  addr: quantize-only
`)
	t.Setenv("MLOPS_SERVE_MAX_BATCH_SIZE", "16")
	if err := sf.Parse([]string{"--poll", "1m"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(LoadOptions{Schema: schema, Flags: sf, ConfigFile: file, Env: noEnv, Dir: dir, Command: CommandKey(serve)})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ApplyToFlags(); err != nil {
		t.Fatal(err)
	}
	get := func(name string) string { return sf.Lookup(name).Value.String() }
	for _, c := range []struct{ flag, want, source string }{
		{"addr", "file:1", "file"},
		{"max-batch-size", "16", "env"},
		{"poll", (time.Minute).String(), "flag"},
		{"op-types", "[MatMul,Gemm]", "file"},
		{"gate", `[accuracy>=0.5,"f1_macro>=0.4,x"]`, "file"}, // one value with a comma stays one
		{"input-field", "[Image=Pixels,mask=M]", "file"},
		{"mean", "[0.500000,0.250000]", "file"},
	} {
		if got := get(c.flag); got != c.want {
			t.Errorf("--%s = %s, want %s", c.flag, got, c.want)
		}
		if !sf.Lookup(c.flag).Changed {
			t.Errorf("--%s not marked set", c.flag)
		}
		if src := cfg.Source(FlagKey("serve", c.flag)); src != c.source {
			t.Errorf("source of --%s = %s, want %s", c.flag, src, c.source)
		}
	}
	if src := cfg.Source("quantize.addr"); src != "file" {
		t.Errorf("quantize.addr source %s (serve's --addr must not count for it)", src)
	}
}

func TestApplyToFlagsRefusesBadValues(t *testing.T) {
	root := &cobra.Command{Use: "mlops"}
	serve := &cobra.Command{Use: "serve"}
	serve.Flags().Int("max-batch-size", 32, "")
	serve.Flags().String("addr", "", "")
	root.AddCommand(serve)
	schema := &ConfigSchema{}
	DeclareCommandFlags(schema, root)
	dir := t.TempDir()
	for _, c := range []struct{ yaml, env, want string }{
		{"serve:\n  max_batch_size: lots\n", "", `c.yaml: key serve.max_batch_size: "lots" is not a valid value for --max-batch-size (int)`},
		{"serve:\n  addr: [a, b]\n", "", "key serve.addr: \"[a b]\" is not a valid value for --addr (string): a list, but --addr takes one value"},
		{"", "x8", `config: MLOPS_SERVE_MAX_BATCH_SIZE: "x8" is not a valid value for --max-batch-size (int)`},
	} {
		t.Setenv("MLOPS_SERVE_MAX_BATCH_SIZE", c.env)
		file := writeFile(t, dir, "c.yaml", c.yaml)
		serve.ResetFlags()
		fl := serve.Flags()
		fl.Int("max-batch-size", 32, "")
		fl.String("addr", "", "")
		cfg, err := LoadConfig(LoadOptions{Schema: schema, Flags: fl, ConfigFile: file, Env: noEnv, Dir: dir, Command: "serve"})
		if err == nil {
			err = cfg.ApplyToFlags()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q / %q: got %v, want %q", c.yaml, c.env, err, c.want)
		}
		if ExitCode(err) != ExitError {
			t.Errorf("exit code %d, want 1 for a configuration error", ExitCode(err))
		}
	}
}

func TestUnknownKeyHints(t *testing.T) {
	schema := &ConfigSchema{}
	schema.Declare(GlobalConfigKeys()...)
	schema.Declare(ConfigKey{Name: "serve.addr", Flag: "addr", Command: "serve"},
		ConfigKey{Name: "serve.input_field", Flag: "input-field", Command: "serve"})
	dir := t.TempDir()
	for body, want := range map[string]string{
		"serve:\n  adr: x\n":                       `"serve.adr"; known keys of serve: serve.addr, serve.input_field`,
		"srve:\n  addr: x\n":                       `"srve.addr"; known keys and sections: no_color, ort_lib, output, quiet, serve, verbose`,
		"serve:\n  input_field: {image: pixels}\n": "",
	} {
		file := writeFile(t, dir, "c.yaml", body)
		_, err := LoadConfig(LoadOptions{Schema: schema, ConfigFile: file, Env: noEnv, Dir: dir})
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: got %v, want %q", body, err, want)
		}
	}
}
