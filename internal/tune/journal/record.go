package journal

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/mlops-dev/mlops/internal/tune/space"
	"github.com/mlops-dev/mlops/internal/tune/study"
)

// Format is the journal format version written in the study record.
const Format = 1

// Op names what a record does.
type Op string

// The record kinds.
const (
	OpStudy     Op = "study"     // first record: the study's name, objectives, space, seed
	OpStart     Op = "start"     // a trial starts: number, params, worker, lease
	OpReport    Op = "report"    // an intermediate value of a running trial
	OpHeartbeat Op = "heartbeat" // a worker is alive: its running trials' leases are renewed
	OpFinish    Op = "finish"    // a trial ends: COMPLETE, PRUNED or FAIL with its values
)

// StudyInfo is the content of the study record.
type StudyInfo struct {
	Name       string            `json:"name"`
	Format     int               `json:"format"`
	Objectives []study.Objective `json:"objectives"`
	Space      *space.Space      `json:"space"`
	Seed       uint64            `json:"seed"`
}

// Record is one journal entry. Which fields are set depends on Op.
type Record struct {
	Op     Op        `json:"op"`
	Time   time.Time `json:"time"`
	Worker string    `json:"worker,omitempty"`
	Trial  *int      `json:"trial,omitempty"`

	Study *StudyInfo `json:"study,omitempty"` // study

	Params  map[string]any `json:"params,omitempty"`   // start
	RetryOf *int           `json:"retry_of,omitempty"` // start: the lost trial this one re-runs
	LeaseS  float64        `json:"lease_s,omitempty"`  // start: seconds without a heartbeat before the trial counts as lost

	Step  *int64   `json:"step,omitempty"`  // report
	Value *float64 `json:"value,omitempty"` // report

	State     study.State        `json:"state,omitempty"`       // finish
	Values    []float64          `json:"values,omitempty"`      // finish: objectives, COMPLETE only
	Metrics   map[string]float64 `json:"metrics,omitempty"`     // finish: every final metric
	Lost      bool               `json:"lost,omitempty"`        // finish: FAIL because the worker vanished
	Message   string             `json:"message,omitempty"`     // finish
	ExitCode  *int               `json:"exit_code,omitempty"`   // finish: command trials
	DurationS float64            `json:"duration_s,omitempty"`  // finish
	Output    string             `json:"output_tail,omitempty"` // finish: last lines of a failed trial's output
	Artifact  string             `json:"artifact,omitempty"`    // finish: the model a trial produced
}

// envelope is one line of the journal: the record and the CRC-32C of its exact bytes, so a
// torn or altered line is recognised and skipped instead of misread.
type envelope struct {
	CRC string          `json:"crc"`
	Rec json.RawMessage `json:"rec"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encodeLine renders r as one journal line, newline included.
func encodeLine(r Record) ([]byte, error) {
	rec, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %s record: %w", r.Op, err)
	}
	line, err := json.Marshal(envelope{CRC: fmt.Sprintf("%08x", crc32.Checksum(rec, castagnoli)), Rec: rec})
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}

// decodeLine parses one line (without its newline) and checks its checksum.
func decodeLine(line []byte) (Record, error) {
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return Record{}, fmt.Errorf("not a journal record: %w", err)
	}
	if env.CRC == "" || env.Rec == nil {
		return Record{}, fmt.Errorf("not a journal record: crc or rec missing")
	}
	if got := fmt.Sprintf("%08x", crc32.Checksum(env.Rec, castagnoli)); got != env.CRC {
		return Record{}, fmt.Errorf("checksum mismatch (stored %s, computed %s)", env.CRC, got)
	}
	var r Record
	if err := json.Unmarshal(env.Rec, &r); err != nil {
		return Record{}, fmt.Errorf("bad record: %w", err)
	}
	return r, nil
}
