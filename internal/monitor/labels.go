package monitor

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Labels maps a request id to its ground truth, one label per row of the request.
type Labels map[string][]string

// ReadLabelsFile reads delayed labels from a JSON Lines (.jsonl, .json) or CSV (.csv) file, optionally
// gzip-compressed (.gz).
func ReadLabelsFile(ctx context.Context, path string) (Labels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	var r io.Reader = f
	name := path
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("labels %s: not gzip data: %w", path, err)
		}
		defer zr.Close()
		r, name = zr, strings.TrimSuffix(name, ".gz")
	}
	switch {
	case strings.HasSuffix(name, ".csv"):
		l, err := ReadLabelsCSV(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("labels %s: %w", path, err)
		}
		return l, nil
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".json"), strings.HasSuffix(name, ".ndjson"):
		l, err := ReadLabelsJSONL(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("labels %s: %w", path, err)
		}
		return l, nil
	}
	return nil, fmt.Errorf("labels %s: unknown format; use .jsonl (request_id, label) or .csv (columns request_id,label)", path)
}

// ReadLabelsJSONL reads lines {"request_id": "...", "label": 3 | "cat" | [..]}. A bad line is an
// error naming the line: labels are small, curated inputs, and a silent gap would bias the metrics.
func ReadLabelsJSONL(ctx context.Context, r io.Reader) (Labels, error) {
	out := Labels{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec struct {
			RequestID *string         `json:"request_id"`
			Label     json.RawMessage `json:"label"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("line %d: not a JSON object: %w", n, err)
		}
		if rec.RequestID == nil || *rec.RequestID == "" {
			return nil, fmt.Errorf("line %d: no request_id", n)
		}
		labels, err := parseLabel(rec.Label)
		if err != nil {
			return nil, fmt.Errorf("line %d (request %s): %w", n, *rec.RequestID, err)
		}
		if err := out.add(*rec.RequestID, labels); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no labels found; each line must be {\"request_id\": ..., \"label\": ...}")
	}
	return out, nil
}

// ReadLabelsCSV reads a CSV with a header holding request_id and label columns. A label cell may hold
// several labels separated by '|' for batch requests.
func ReadLabelsCSV(ctx context.Context, r io.Reader) (Labels, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	idCol, labelCol := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "request_id":
			idCol = i
		case "label":
			labelCol = i
		}
	}
	if idCol < 0 || labelCol < 0 {
		return nil, fmt.Errorf("CSV header %v must name the columns request_id and label", header)
	}
	out := Labels{}
	for n := 2; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if idCol >= len(rec) || labelCol >= len(rec) {
			return nil, fmt.Errorf("line %d: %d fields, need columns %d and %d", n, len(rec), idCol+1, labelCol+1)
		}
		id := strings.TrimSpace(rec[idCol])
		if id == "" {
			return nil, fmt.Errorf("line %d: empty request_id", n)
		}
		cell := strings.TrimSpace(rec[labelCol])
		if cell == "" {
			return nil, fmt.Errorf("line %d (request %s): empty label", n, id)
		}
		var labels []string
		for _, s := range strings.Split(cell, "|") {
			labels = append(labels, normaliseLabel(strings.TrimSpace(s)))
		}
		if err := out.add(id, labels); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no labels found after the CSV header")
	}
	return out, nil
}

func (l Labels) add(id string, labels []string) error {
	if _, dup := l[id]; dup {
		return fmt.Errorf("request_id %q appears twice; keep one label per request", id)
	}
	l[id] = labels
	return nil
}

// parseLabel accepts a number, a string, a boolean, or an array of those (one per row).
func parseLabel(raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, errors.New("no label")
	}
	if raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("label array: %w", err)
		}
		if len(items) == 0 {
			return nil, errors.New("empty label array")
		}
		out := make([]string, len(items))
		for i, it := range items {
			s, err := scalarLabel(it)
			if err != nil {
				return nil, fmt.Errorf("label %d: %w", i, err)
			}
			out[i] = s
		}
		return out, nil
	}
	s, err := scalarLabel(raw)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func scalarLabel(raw json.RawMessage) (string, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case float64:
		return formatNumber(x), nil
	case string:
		return normaliseLabel(x), nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("label must be a number, string or boolean, got %s", raw)
}

// normaliseLabel writes numeric strings the way predictions are written ("3.0" → "3"), so a CSV label
// matches an argmax class id.
func normaliseLabel(s string) string {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return formatNumber(f)
	}
	return s
}

func formatNumber(f float64) string {
	if f == float64(int64(f)) {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
