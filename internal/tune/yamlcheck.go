package tune

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// checkKeys walks a YAML document against the struct it will be decoded into and reports the
// first unknown key with its line and the valid keys, so a typo ("sampeler:") is an error that
// says what to write instead, never a silently ignored setting.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(flagsYAML{}) {
		return nil // a command's flags: checked against the command's flag set
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkKeys(c, t, path); err != nil {
				return err
			}
		}
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := map[string]reflect.Type{}
			var names []string
			for i := 0; i < t.NumField(); i++ {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				if name == "" || name == "-" {
					continue
				}
				fields[name] = f.Type
				names = append(names, name)
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				ft, ok := fields[k.Value]
				if !ok {
					where := "at the top level"
					if path != "" {
						where = "in " + path
					}
					return fmt.Errorf("line %d: unknown key %q %s (valid keys: %s)", k.Line, k.Value, where, strings.Join(names, ", "))
				}
				if err := checkKeys(v, ft, join(path, k.Value)); err != nil {
					return err
				}
			}
		case reflect.Map:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if err := checkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
					return err
				}
			}
		}
	case yaml.SequenceNode:
		if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			for i, c := range n.Content {
				if err := checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mappingKeys returns a mapping node's keys in document order.
func mappingKeys(n *yaml.Node, key string) []string {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.MappingNode {
			var out []string
			m := n.Content[i+1]
			for j := 0; j+1 < len(m.Content); j += 2 {
				if !slices.Contains(out, m.Content[j].Value) {
					out = append(out, m.Content[j].Value)
				}
			}
			return out
		}
	}
	return nil
}
