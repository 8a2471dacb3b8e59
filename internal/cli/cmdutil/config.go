package cmdutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cast"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// ConfigVersion is the only config file schema version this build reads.
// A file may say `version: 1`; any other value is an error so that a file
// written for a future mlops is not half-understood.
const ConfigVersion = 1

// ConfigKey declares one configuration key. Every key a command reads must
// be declared (Factory.DeclareConfig) before the configuration is loaded:
// keys found in a config file that nobody declared are errors.
//
// The value of a key comes from, highest first: the flag named Flag (when the
// user set it), the environment variable MLOPS_<NAME> (dots and dashes become
// underscores, e.g. serve.addr → MLOPS_SERVE_ADDR), the config file, Default.
type ConfigKey struct {
	Name    string   // dotted, lower snake case: "ort_lib", "serve.addr"
	Default any      // typed zero or default; its type is the key's type (nil: the flag's)
	Flag    string   // flag that overrides the key, "" for none
	Values  []string // allowed values for string keys, nil for any
	Help    string   // one line, shown by `mlops help config` style listings
	// Command is the dotted path of the command whose flag Flag is
	// ("serve", see CommandKey); "" for a flag every command has.
	Command string
}

// EnvVar is the environment variable that sets the key.
func (k ConfigKey) EnvVar() string {
	return "MLOPS_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(k.Name))
}

// ConfigSchema is the set of declared keys of one run.
type ConfigSchema struct {
	keys map[string]ConfigKey
}

// Declare adds keys. Declaring a key twice is allowed (two commands may share
// one); the first declaration wins.
func (s *ConfigSchema) Declare(keys ...ConfigKey) {
	if s.keys == nil {
		s.keys = map[string]ConfigKey{}
	}
	for _, k := range keys {
		k.Name = strings.ToLower(k.Name)
		if _, ok := s.keys[k.Name]; !ok {
			s.keys[k.Name] = k
		}
	}
}

// Keys lists the declared keys sorted by name.
func (s *ConfigSchema) Keys() []ConfigKey {
	out := make([]ConfigKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// known reports whether a key read from a file is declared, or lies inside
// a declared key whose value is a mapping (serve.input_field.image).
func (s *ConfigSchema) known(name string) bool {
	for key := name; ; {
		if _, ok := s.lookup(key); ok {
			return true
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			return false
		}
		key = key[:i]
	}
}

// knownHint lists the keys that could have been meant: those of the
// unknown key's section, or the top-level keys and sections.
func (s *ConfigSchema) knownHint(unknown string) string {
	section, _, nested := strings.Cut(unknown, ".")
	var names []string
	seen := map[string]bool{}
	for _, k := range s.Keys() {
		if nested && strings.HasPrefix(k.Name, section+".") {
			names = append(names, k.Name)
		}
	}
	if len(names) > 0 {
		return fmt.Sprintf("known keys of %s: %s", section, strings.Join(names, ", "))
	}
	for _, k := range s.Keys() {
		top, _, _ := strings.Cut(k.Name, ".")
		if !seen[top] {
			seen[top] = true
			names = append(names, top)
		}
	}
	return fmt.Sprintf("known keys and sections: %s (each command's flags are keys of its section: serve.addr, quantize.mode)", strings.Join(names, ", "))
}

func (s *ConfigSchema) lookup(name string) (ConfigKey, bool) {
	k, ok := s.keys[strings.ToLower(name)]
	return k, ok
}

// LoadOptions say where a run's configuration comes from.
type LoadOptions struct {
	Schema *ConfigSchema
	// Flags of the command being run (after parsing); may be nil.
	Flags *pflag.FlagSet
	// ConfigFile is the value of --config; "" to search the default places.
	ConfigFile string
	// Env looks up environment variables used to find the file
	// (MLOPS_CONFIG, XDG_CONFIG_HOME, HOME). nil means os.LookupEnv.
	Env EnvLookup
	// Dir is where ./mlops.yaml is looked for; "" means the working directory.
	Dir string
	// Command is the running command's dotted path (CommandKey): only its
	// keys and the global ones are bound to Flags.
	Command string
}

// Config is the resolved configuration of one run. It wraps a viper
// instance private to the run (never the global one).
type Config struct {
	v       *viper.Viper
	file    string
	schema  *ConfigSchema
	flags   *pflag.FlagSet
	command string
	applied map[string]string // key → "env" or "file", for flags ApplyToFlags set
	raw     map[string]any    // the file as YAML decoded it: viper lower-cases mapping keys
}

// File is the config file in use, or "" when none was found.
func (c *Config) File() string { return c.file }

// Keys lists the declared keys.
func (c *Config) Keys() []ConfigKey { return c.schema.Keys() }

// Get returns the raw value of a key.
func (c *Config) Get(key string) any { return c.v.Get(key) }

// GetString returns a string key.
func (c *Config) GetString(key string) string { return c.v.GetString(key) }

// GetBool returns a bool key.
func (c *Config) GetBool(key string) bool { return c.v.GetBool(key) }

// GetInt returns an int key.
func (c *Config) GetInt(key string) int { return c.v.GetInt(key) }

// GetFloat64 returns a float key.
func (c *Config) GetFloat64(key string) float64 { return c.v.GetFloat64(key) }

// GetDuration returns a duration key ("1m30s").
func (c *Config) GetDuration(key string) time.Duration { return c.v.GetDuration(key) }

// GetStringSlice returns a list key.
func (c *Config) GetStringSlice(key string) []string { return c.v.GetStringSlice(key) }

// Source says where the value of key came from: "flag", "env", "file" or "default".
func (c *Config) Source(key string) string {
	k, ok := c.schema.lookup(key)
	if !ok {
		return "unknown"
	}
	if src, ok := c.applied[k.Name]; ok {
		return src
	}
	if c.flagChanged(k) {
		return "flag"
	}
	if os.Getenv(k.EnvVar()) != "" { // empty counts as unset, as viper counts it
		return "env"
	}
	if c.file != "" && c.v.InConfig(k.Name) {
		return "file"
	}
	return "default"
}

// NewTestConfig returns a configuration with the schema's defaults overridden
// by values, for tests that call a command's run function directly.
func NewTestConfig(schema *ConfigSchema, values map[string]any) *Config {
	if schema == nil {
		schema = &ConfigSchema{}
	}
	v := viper.New()
	for _, k := range schema.Keys() {
		v.SetDefault(k.Name, k.Default)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	return &Config{v: v, schema: schema}
}

// LoadConfig resolves the configuration: flags > MLOPS_* environment >
// config file > defaults. Unknown keys in the file, values of the wrong type
// and values outside a key's allowed set are errors.
func LoadConfig(opts LoadOptions) (*Config, error) {
	schema := opts.Schema
	if schema == nil {
		schema = &ConfigSchema{}
	}
	env := opts.Env
	if env == nil {
		env = os.LookupEnv
	}
	path, err := findConfigFile(opts.ConfigFile, env, opts.Dir)
	if err != nil {
		return nil, err
	}

	v := viper.New()
	v.SetConfigType("yaml")
	for _, k := range schema.Keys() {
		v.SetDefault(k.Name, k.Default)
		if err := v.BindEnv(k.Name, k.EnvVar()); err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("bind %s: %w", k.EnvVar(), err)}
		}
		if k.Flag != "" && opts.Flags != nil && k.ownedBy(opts.Command) {
			if f := opts.Flags.Lookup(k.Flag); f != nil {
				if err := v.BindPFlag(k.Name, f); err != nil {
					return nil, &ConfigError{Err: fmt.Errorf("bind --%s: %w", k.Flag, err)}
				}
			}
		}
	}
	var raw map[string]any
	if path != "" {
		if raw, err = readConfigFile(v, path, schema); err != nil {
			return nil, err
		}
	}
	c := &Config{v: v, file: path, schema: schema, flags: opts.Flags, command: opts.Command, raw: raw}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// findConfigFile applies the search order: --config, MLOPS_CONFIG,
// $XDG_CONFIG_HOME/mlops/config.yaml (default ~/.config), ./mlops.yaml.
// An explicitly named file must exist; the default places are optional.
func findConfigFile(explicit string, env EnvLookup, dir string) (string, error) {
	if explicit == "" {
		explicit, _ = env("MLOPS_CONFIG")
	}
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", &ConfigError{File: explicit, Err: fmt.Errorf("cannot read the config file: %w", errors.Unwrap(err))}
		}
		return explicit, nil
	}
	var candidates []string
	if xdg, ok := env("XDG_CONFIG_HOME"); ok && xdg != "" {
		candidates = append(candidates, filepath.Join(xdg, "mlops", "config.yaml"))
	} else if home, ok := env("HOME"); ok && home != "" {
		candidates = append(candidates, filepath.Join(home, ".config", "mlops", "config.yaml"))
	}
	candidates = append(candidates, filepath.Join(dir, "mlops.yaml"))
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", nil
}

func readConfigFile(v *viper.Viper, path string, schema *ConfigSchema) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Err: err}
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, &ConfigError{File: path, Err: fmt.Errorf("not valid YAML: %w", err)}
	}
	// Parse once on its own to see exactly which keys the file sets.
	fileOnly := viper.New()
	fileOnly.SetConfigType("yaml")
	if err := fileOnly.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &ConfigError{File: path, Err: fmt.Errorf("not valid YAML: %w", err)}
	}
	if fileOnly.IsSet("version") {
		ver, err := cast.ToIntE(fileOnly.Get("version"))
		if err != nil || ver != ConfigVersion {
			return nil, &ConfigError{File: path, Err: fmt.Errorf("version %v is not supported by this mlops (it reads version %d)", fileOnly.Get("version"), ConfigVersion)}
		}
	}
	var unknown []string
	for _, key := range fileOnly.AllKeys() {
		if key != "version" && !schema.known(key) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, &ConfigError{File: path, Err: fmt.Errorf("unknown key(s) %s; %s",
			strings.Join(quoteAll(unknown), ", "), schema.knownHint(unknown[0]))}
	}
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, &ConfigError{File: path, Err: err}
	}
	return raw, nil
}

// validate checks every key's resolved value against its declared type and
// allowed values, naming where the bad value came from.
func (c *Config) validate() error {
	for _, k := range c.schema.Keys() {
		val := c.v.Get(k.Name)
		if val == nil {
			continue
		}
		var err error
		switch k.Default.(type) {
		case string:
			var s string
			s, err = cast.ToStringE(val)
			if err == nil && len(k.Values) > 0 && !slices.Contains(k.Values, s) {
				err = fmt.Errorf("%q is not one of %s", s, strings.Join(k.Values, ", "))
			}
		case bool:
			_, err = cast.ToBoolE(val)
		case int, int64:
			_, err = cast.ToInt64E(val)
		case float64:
			_, err = cast.ToFloat64E(val)
		case time.Duration:
			_, err = cast.ToDurationE(val)
		case []string:
			_, err = cast.ToStringSliceE(val)
		}
		if err != nil {
			switch c.Source(k.Name) {
			case "flag":
				return FlagErrorf("invalid value for --%s: %v", k.Flag, err)
			case "env":
				return &ConfigError{Err: fmt.Errorf("%s: %w", k.EnvVar(), err)}
			default:
				return &ConfigError{File: c.file, Err: fmt.Errorf("key %s: %w", k.Name, err)}
			}
		}
	}
	return nil
}

func (c *Config) flagChanged(k ConfigKey) bool {
	if k.Flag == "" || c.flags == nil || !k.ownedBy(c.command) {
		return false
	}
	f := c.flags.Lookup(k.Flag)
	return f != nil && f.Changed
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
