package data

import (
	"fmt"
	"slices"
	"strings"
)

// binding says which data fields feed one model input and how.
type binding struct {
	info     InputInfo // Shape[1:] resolved to the per-row shape
	fields   []string
	widths   []int // elements per row of each field
	rowElems int
	mean     []float64
	std      []float64
	chanDiv  int // element index / chanDiv % len(mean) is the channel
}

type source struct {
	spec     Spec
	data     reader
	labels   reader // separate labels file, or nil
	labelFld string // label field name ("" = no labels)
	binds    []binding
	batch    int
	offset   int
	done     bool
}

func (s *source) bind() error {
	sp := s.spec
	fields := s.data.fields()
	byName := map[string]field{}
	var names []string
	for _, f := range fields {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	avail := strings.Join(names, ", ")

	// Labels.
	if sp.LabelsPath != "" {
		if err := s.bindLabelsFile(); err != nil {
			return &labelsFileError{err}
		}
	} else if sp.LabelColumn != "" {
		if _, ok := byName[sp.LabelColumn]; !ok {
			return fmt.Errorf("label column %q not found (the data has %s)", sp.LabelColumn, avail)
		}
		if err := checkLabelField(fields, sp.LabelColumn, sp.Path); err != nil {
			return err
		}
		s.labelFld = sp.LabelColumn
	}

	var candidates []string
	for _, n := range names {
		if !(s.labels == nil && n == s.labelFld) {
			candidates = append(candidates, n)
		}
	}
	if len(sp.Columns) > 0 {
		candidates = sp.Columns
	}

	inputs := sp.Inputs
	if err := checkInputFields(sp.InputFields, inputs); err != nil {
		return err
	}
	if len(inputs) == 0 {
		for _, n := range candidates {
			f, ok := byName[n]
			if !ok {
				return fmt.Errorf("column %q not found (the data has %s)", n, avail)
			}
			inputs = append(inputs, InputInfo{Name: n, DType: f.DType, Shape: append([]int64{-1}, f.RowShape...)})
		}
	}
	if len(inputs) == 0 {
		return fmt.Errorf("the data has no feature fields besides the label (it has %s)", avail)
	}

	s.batch = sp.BatchSize
	used := map[string]bool{}
	for _, in := range inputs {
		var src []string
		switch {
		case sp.InputFields[in.Name] != "":
			src = []string{sp.InputFields[in.Name]}
		case len(sp.Columns) == 0 && byName[in.Name].Name != "":
			src = []string{in.Name}
		case len(inputs) == 1:
			src = candidates
		default:
			return fmt.Errorf("no data field for model input %q: name the array or column after the input, or map it (--input-field %s=FIELD); the data has %s", in.Name, in.Name, avail)
		}
		b, err := s.bindInput(in, src, byName, avail)
		if err != nil {
			return err
		}
		if len(in.Shape) > 0 && in.Shape[0] > 0 && int(in.Shape[0]) < s.batch {
			s.batch = int(in.Shape[0]) // a fixed batch dimension caps the batch size
		}
		for _, f := range src {
			used[f] = true
		}
		s.binds = append(s.binds, b)
	}
	if s.labels == nil && s.labelFld != "" {
		used[s.labelFld] = true
	}
	var use []string
	for _, n := range names {
		if used[n] {
			use = append(use, n)
		}
	}
	if err := s.data.use(use); err != nil {
		return err
	}
	if s.labels != nil {
		dn, ln := s.data.rows(), s.labels.rows()
		if dn >= 0 && ln >= 0 && dn != ln {
			return fmt.Errorf("the data has %d rows but the labels file %s has %d; they must match one to one", dn, sp.LabelsPath, ln)
		}
	}
	return nil
}

func checkLabelField(fields []field, name, path string) error {
	for _, f := range fields {
		if f.Name == name {
			if f.DType == Invalid {
				return fmt.Errorf("label column %q in %s is not numeric; map class names to integer ids first", name, path)
			}
			return nil
		}
	}
	var ln []string
	for _, f := range fields {
		ln = append(ln, f.Name)
	}
	return fmt.Errorf("label column %q not found in %s (it has %s)", name, path, strings.Join(ln, ", "))
}

func (s *source) bindInput(in InputInfo, src []string, byName map[string]field, avail string) (binding, error) {
	b := binding{info: in, fields: src}
	if len(in.Shape) == 0 {
		return b, fmt.Errorf("model input %q is a scalar; batches need a leading batch dimension", in.Name)
	}
	table := false
	var one field
	for _, n := range src {
		f, ok := byName[n]
		if !ok {
			return b, fmt.Errorf("input %q: data field %q not found (the data has %s)", in.Name, n, avail)
		}
		if f.DType == Invalid {
			return b, fmt.Errorf("input %q: column %q is not numeric", in.Name, n)
		}
		w := int(numElems(f.RowShape))
		b.widths = append(b.widths, w)
		b.rowElems += w
		table = table || f.table
		one = f
	}
	want := in.Shape[1:]
	expect := fmt.Sprintf("input %q expects shape %s", in.Name, FormatShape(in.Shape))
	have := fmt.Sprintf("field %q has rows of shape %s", one.Name, FormatShape(one.RowShape))
	if len(src) > 1 {
		have = fmt.Sprintf("the %d selected columns give %d values per row", len(src), b.rowElems)
	}
	row, err := resolveRow(want, one.RowShape, b.rowElems, len(src) == 1 && !table && !s.spec.Preprocess.Reshape)
	if err != nil {
		hint := ""
		if len(src) == 1 && !table && !s.spec.Preprocess.Reshape && numElems(one.RowShape) == staticElems(want) {
			hint = "; pass --reshape to reshape each row"
		}
		return b, fmt.Errorf("%s but %s: %v%s", expect, have, err, hint)
	}
	b.info.Shape = append([]int64{in.Shape[0]}, row...)
	if b.info.DType == Invalid {
		b.info.DType = one.DType
	}
	pp := s.spec.Preprocess
	if len(pp.Mean) > 0 || len(pp.Std) > 0 {
		m, sd := pp.Mean, pp.Std
		if len(m) == 0 {
			m = make([]float64, len(sd))
		}
		if len(sd) == 0 {
			sd = make([]float64, len(m))
			for i := range sd {
				sd[i] = 1
			}
		}
		if len(m) != len(sd) {
			return b, fmt.Errorf("--mean has %d values but --std has %d; give both per channel or one each", len(m), len(sd))
		}
		for _, v := range sd {
			if v == 0 {
				return b, fmt.Errorf("--std contains 0; standard deviations must be non-zero")
			}
		}
		b.chanDiv = 1
		if len(m) > 1 {
			axis := 0
			if pp.ChannelsLast {
				axis = len(row) - 1
			}
			if len(row) == 0 || row[axis] != int64(len(m)) {
				return b, fmt.Errorf("%s; --mean/--std have %d values, which needs %d channels on axis %d", expect, len(m), len(m), axis+1)
			}
			b.chanDiv = int(numElems(row[axis+1:]))
		}
		b.mean, b.std = m, sd
	}
	return b, nil
}

func staticElems(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// resolveRow works out the per-row shape feeding dims want from data rows of
// shape have holding elems values. strict forbids reshaping.
func resolveRow(want, have []int64, elems int, strict bool) ([]int64, error) {
	if len(want) == len(have) {
		out := make([]int64, len(want))
		ok := true
		for i := range want {
			out[i] = have[i]
			if want[i] >= 0 && want[i] != have[i] {
				ok = false
			}
		}
		if ok {
			return out, nil
		}
	}
	if strict {
		return nil, fmt.Errorf("the shapes differ")
	}
	dyn, static := -1, int64(1)
	for i, d := range want {
		if d < 0 {
			if dyn >= 0 {
				return nil, fmt.Errorf("more than one dynamic dimension, so rows of %d values cannot be reshaped", elems)
			}
			dyn = i
			continue
		}
		static *= d
	}
	out := append([]int64(nil), want...)
	if dyn < 0 {
		if static != int64(elems) {
			return nil, fmt.Errorf("that is %d values per row where %d are needed", elems, static)
		}
		return out, nil
	}
	if static == 0 || int64(elems)%static != 0 {
		return nil, fmt.Errorf("%d values per row do not divide into the static dimensions (%d)", elems, static)
	}
	out[dyn] = int64(elems) / static
	return out, nil
}

// checkInputFields refuses a mapping for an input the model does not have (a
// typo would otherwise be ignored and the input fed from another field).
func checkInputFields(m map[string]string, inputs []InputInfo) error {
	if len(inputs) == 0 {
		return nil // no model: the inputs are the data's own fields
	}
	var names []string
	for _, in := range inputs {
		names = append(names, in.Name)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(names, k) {
			return fmt.Errorf("--input-field %s=%s: the model has no input %q (its inputs: %s)", k, m[k], k, strings.Join(names, ", "))
		}
	}
	return nil
}

// bindLabelsFile opens the separate labels file and chooses its label field.
func (s *source) bindLabelsFile() error {
	sp := s.spec
	lr, err := openReader(sp.LabelsPath, FormatAuto, sp.NoHeader)
	if err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	s.labels = lr
	lf := lr.fields()
	switch {
	case sp.LabelColumn != "":
		s.labelFld = sp.LabelColumn
	case len(lf) == 1:
		s.labelFld = lf[0].Name
	default:
		var ln []string
		for _, f := range lf {
			ln = append(ln, f.Name)
		}
		return fmt.Errorf("labels file %s has several columns (%s); choose one with --label-column", sp.LabelsPath, strings.Join(ln, ", "))
	}
	if err := checkLabelField(lr.fields(), s.labelFld, sp.LabelsPath); err != nil {
		return err
	}
	if err := lr.use([]string{s.labelFld}); err != nil {
		return fmt.Errorf("labels file %s: %w", sp.LabelsPath, err)
	}
	return nil
}

// labelsFileError is a problem of the labels file alone: it names that file,
// and Open does not put the data file's name in front of it.
type labelsFileError struct{ err error }

func (e *labelsFileError) Error() string { return e.err.Error() }
func (e *labelsFileError) Unwrap() error { return e.err }
