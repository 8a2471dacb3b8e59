package export

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-dev/mlops/internal/onnx/onnxpb"
)

// ParseKeyValues parses KEY=VALUE pairs (for --meta and --fix-dim).
func ParseKeyValues(pairs []string, what string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: write it as KEY=VALUE", what, p)
		}
		out[k] = v
	}
	return out, nil
}

// setMetadata adds or replaces metadata_props entries; it returns how many
// entries it wrote.
func setMetadata(mp *onnxpb.ModelProto, kv map[string]string) int {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		found := false
		for _, e := range mp.MetadataProps {
			if e.GetKey() == k {
				e.Value = ptr(kv[k])
				found = true
			}
		}
		if !found {
			mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: ptr(k), Value: ptr(kv[k])})
		}
	}
	return len(keys)
}

// fixDims replaces symbolic dimensions (dim_param) with fixed values in the
// graph's inputs, outputs and value_info. Every name asked for must occur.
func fixDims(g *onnxpb.GraphProto, kv map[string]string) (int, error) {
	vals := map[string]int64{}
	for k, v := range kv {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("--fix-dim %s=%s: the value must be a positive integer", k, v)
		}
		vals[k] = n
	}
	seen := map[string]bool{}
	count := 0
	for _, list := range [][]*onnxpb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
		for _, vi := range list {
			for _, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
				if n, ok := vals[d.GetDimParam()]; ok {
					seen[d.GetDimParam()] = true
					d.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: n}
					count++
				}
			}
		}
	}
	var missing []string
	for k := range vals {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return 0, fmt.Errorf("--fix-dim: no symbolic dimension named %s in the model; `mlops inspect` lists the dimension names", strings.Join(missing, ", "))
	}
	return count, nil
}

func ptr[T any](v T) *T { return &v }
