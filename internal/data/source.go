package data

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Open checks the spec against the files and the model's inputs and returns
// a Source positioned at the first row. Nothing but headers (and, for
// row-oriented files, the first record) is read until Next.
func Open(ctx context.Context, spec Spec) (Source, error) {
	if spec.BatchSize < 0 || spec.Limit < 0 {
		return nil, errors.New("batch size and limit must not be negative")
	}
	if spec.BatchSize == 0 {
		spec.BatchSize = 32
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dr, err := openReader(spec.Path, spec.Format, spec.NoHeader)
	if err != nil {
		return nil, err
	}
	s := &source{spec: spec, data: dr}
	if err := s.bind(); err != nil {
		s.Close()
		if le := (*labelsFileError)(nil); errors.As(err, &le) {
			return nil, le.err // it names the labels file, which is what is wrong
		}
		return nil, fmt.Errorf("%s: %w", spec.Path, err)
	}
	return s, nil
}

func openReader(path string, format Format, noHeader bool) (reader, error) {
	if format == FormatAuto {
		var err error
		if format, err = DetectFormat(path); err != nil {
			return nil, err
		}
	}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	switch format {
	case FormatNPZ:
		return openNPZ(path)
	case FormatParquet:
		src, err := newParquetSource(path)
		if err != nil {
			return nil, err
		}
		return wrapTable(path, src)
	}
	rc, err := openMaybeGzip(path)
	if err != nil {
		return nil, err
	}
	switch format {
	case FormatNPY:
		s, err := newNPYStream(stem, rc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &npyReader{s: s}, nil
	case FormatCSV:
		comma := ','
		if strings.HasSuffix(strings.ToLower(path), ".tsv") {
			comma = '\t'
		}
		src, err := newCSVSource(rc, noHeader, comma)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return wrapTable(path, src)
	case FormatJSONL:
		return wrapTable(path, newJSONLSource(rc))
	}
	rc.Close()
	return nil, fmt.Errorf("unknown data format %q (want npy, npz, csv, jsonl or parquet)", format)
}

func wrapTable(path string, src recordSource) (reader, error) {
	t, err := newTableReader(src)
	if err != nil {
		src.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

type gzipFile struct {
	*gzip.Reader
	f *os.File
}

func (g gzipFile) Close() error { g.Reader.Close(); return g.f.Close() }

func openMaybeGzip(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return gzipFile{zr, f}, nil
}
