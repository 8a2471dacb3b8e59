package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cast"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// CommandKey is the dotted path of cmd below the root command, the section
// of the config file that holds its flags: "serve" for `mlops serve`, ""
// for the root itself.
func CommandKey(cmd *cobra.Command) string {
	var parts []string
	for c := cmd; c != nil && c.HasParent(); c = c.Parent() {
		parts = append([]string{c.Name()}, parts...)
	}
	return strings.Join(parts, ".")
}

// FlagKey is the config key of a command's flag: the command's section and
// the flag name in snake case (serve --max-batch-size → serve.max_batch_size,
// whose variable is MLOPS_SERVE_MAX_BATCH_SIZE).
func FlagKey(command, flag string) string {
	name := strings.ReplaceAll(flag, "-", "_")
	if command == "" {
		return name
	}
	return command + "." + name
}

// DeclareCommandFlags declares a key for every flag of every command in the
// tree under root (help excepted), so any flag can be set in the config file
// or the environment, and a file written for one command is valid for all.
// Keys declared before (with their own types and allowed values) are kept.
func DeclareCommandFlags(s *ConfigSchema, root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() {
			command := CommandKey(c)
			c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if f.Name == "help" {
					return
				}
				s.Declare(ConfigKey{Name: FlagKey(command, f.Name), Flag: f.Name, Command: command, Help: f.Usage})
			})
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// ownedBy reports whether the key's flag belongs to the running command.
func (k ConfigKey) ownedBy(command string) bool {
	return k.Command == "" || k.Command == command
}

// ApplyToFlags gives every flag of the running command that the user did
// not set the value of its key from the environment or the config file,
// and marks it set. Commands then read their flags alone and get flag >
// MLOPS_* variable > config file > default; Source still says where each
// value came from. A value the flag does not accept is an error that names
// the variable or the file and key.
func (c *Config) ApplyToFlags() error {
	if c.flags == nil {
		return nil
	}
	for _, k := range c.schema.Keys() {
		if k.Flag == "" || !k.ownedBy(c.command) {
			continue
		}
		f := c.flags.Lookup(k.Flag)
		if f == nil || f.Changed {
			continue
		}
		var err error
		switch c.Source(k.Name) {
		case "env":
			raw, _ := os.LookupEnv(k.EnvVar())
			if err = f.Value.Set(raw); err != nil {
				return &ConfigError{Err: fmt.Errorf("%s: %s", k.EnvVar(), badValue(f, raw, err))}
			}
			c.markApplied(f, k.Name, "env")
		case "file":
			val := c.fileValue(k.Name)
			if err = setFromFile(f, val); err != nil {
				return &ConfigError{File: c.file, Err: fmt.Errorf("key %s: %s", k.Name, badValue(f, val, err))}
			}
			c.markApplied(f, k.Name, "file")
		}
	}
	return nil
}

// fileValue is the key's value as the file spells it (mapping keys keep
// their case: they may be model input names). Section and key names match
// case-insensitively, as viper matches them.
func (c *Config) fileValue(key string) any {
	var cur any = c.raw
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = nil
		for name, v := range m {
			if strings.EqualFold(name, part) {
				cur = v
				break
			}
		}
	}
	return cur
}

func (c *Config) markApplied(f *pflag.Flag, key, source string) {
	f.Changed = true
	if c.applied == nil {
		c.applied = map[string]string{}
	}
	c.applied[key] = source
}

// setFromFile sets a flag from a YAML value: a list for list flags, a
// mapping for KEY=VALUE flags (--input-field), a scalar otherwise (a string
// is then parsed as the flag parses its command-line text).
func setFromFile(f *pflag.Flag, val any) error {
	switch v := val.(type) {
	case []any:
		items, err := cast.ToStringSliceE(v)
		if err != nil {
			return err
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			return sv.Replace(items)
		}
		return fmt.Errorf("a list, but --%s takes one value", f.Name)
	case map[string]any:
		if f.Value.Type() != "stringToString" {
			return fmt.Errorf("a mapping, but --%s is not a KEY=VALUE flag", f.Name)
		}
		pairs := make([]string, 0, len(v))
		for key, item := range v {
			pairs = append(pairs, key+"="+cast.ToString(item))
		}
		sort.Strings(pairs)
		return f.Value.Set(strings.Join(pairs, ","))
	case nil:
		return nil
	}
	s, err := cast.ToStringE(val)
	if err != nil {
		return err
	}
	return f.Value.Set(s)
}

// badValue words a rejected value the way a bad flag value is worded.
func badValue(f *pflag.Flag, val any, err error) string {
	msg := fmt.Sprintf("%q is not a valid value for --%s (%s)", fmt.Sprint(val), f.Name, f.Value.Type())
	var numErr *strconv.NumError
	if errors.As(err, &numErr) {
		return msg // strconv's own words add nothing
	}
	return msg + ": " + err.Error()
}
