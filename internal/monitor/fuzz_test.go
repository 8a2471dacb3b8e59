package monitor

import (
	"context"
	"strings"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary payload-log lines through decoding and the frame builder: they may
// be rejected, never panic, and an accepted record always yields whole rows.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"ts":"2026-11-28T10:00:00Z","request_id":"a","model":"m","inputs":[{"name":"x","datatype":"FP32","shape":[2,2],"data":[1,2,3,4]}],"outputs":[{"name":"y","datatype":"FP32","shape":[2,3],"data":[1,2,3,4,5,6]}]}`))
	f.Add([]byte(`{"request_id":"b","inputs":[{"name":"s","datatype":"BYTES","shape":[1],"data":["x"]},{"name":"b","datatype":"BOOL","shape":[1],"data":[true]}]}`))
	f.Add([]byte(`{"request_id":"c","inputs":[{"name":"x","datatype":"INT64","shape":[4611686018427387904,4],"data":[]}]}`))
	f.Add([]byte(`{"request_id":"d","inputs":[{"name":"x","datatype":"FP32","shape":[],"data":[1]}],"outputs":[{"name":"y","datatype":"INT64","shape":[1,0],"data":[]}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := DecodeRecord(line)
		if err != nil {
			return
		}
		b := &recordBuilder{dict: NewDictionary()}
		if err := b.add(rec); err != nil {
			return
		}
		if b.frame == nil {
			t.Fatal("accepted record but no frame")
		}
		n := b.frame.Rows()
		for _, c := range b.frame.Columns {
			if len(c.Values) != n {
				t.Fatalf("column %s has %d values, frame has %d rows", c.Name, len(c.Values), n)
			}
		}
		if len(b.frame.RequestIDs) != len(b.frame.Times) || (b.frame.Prediction != nil && len(b.frame.Predicted) != len(b.frame.RequestIDs)) {
			t.Fatal("row metadata out of step")
		}
	})
}

// FuzzReadLabelsJSONL: any input is either labels with non-empty ids and labels, or an error.
func FuzzReadLabelsJSONL(f *testing.F) {
	f.Add(`{"request_id":"a","label":3}` + "\n" + `{"request_id":"b","label":["x",1,true]}`)
	f.Add(`{"request_id":"a","label":null}`)
	f.Add(`{"request_id":"","label":1}`)
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ReadLabelsJSONL(context.Background(), strings.NewReader(in))
		if err != nil {
			return
		}
		for id, ls := range l {
			if id == "" || len(ls) == 0 {
				t.Fatalf("accepted empty id or label: %q %q", id, ls)
			}
		}
	})
}

// FuzzReadLabelsCSV: same contract for CSV.
func FuzzReadLabelsCSV(f *testing.F) {
	f.Add("request_id,label\na,1\nb,2|3\n")
	f.Add("label,request_id\n\"x,y\",a\n")
	f.Add("request_id,label\na\n")
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ReadLabelsCSV(context.Background(), strings.NewReader(in))
		if err != nil {
			return
		}
		for id, ls := range l {
			if id == "" || len(ls) == 0 {
				t.Fatalf("accepted empty id or label: %q %q", id, ls)
			}
		}
	})
}
