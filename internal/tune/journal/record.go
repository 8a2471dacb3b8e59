package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
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
	// Infeasible: finish, COMPLETE: the constraints the trial violated (judged when it finished).
	Infeasible []string `json:"infeasible,omitempty"`
	// Violation: with Infeasible, how far the trial missed each of those constraints (absent
	// from journals written before it; study.Trial.TotalViolation copes).
	Violation []float64 `json:"violation,omitempty"`
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

// decodeLine parses one line (without its newline) and checks its checksum. Lines as
// encodeLine writes them are split without a JSON pass over the envelope (the record is then
// decoded once); anything else goes through the general parse.
func decodeLine(line []byte) (Record, error) {
	rec, crc, err := splitEnvelope(line)
	if err != nil {
		return Record{}, err
	}
	if got := crc32.Checksum(rec, castagnoli); got != crc {
		return Record{}, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", crc, got)
	}
	var r Record
	if err := json.Unmarshal(rec, &r); err != nil {
		return Record{}, fmt.Errorf("bad record: %w", err)
	}
	return r, nil
}

var (
	envPrefix = []byte(`{"crc":"`)
	envMiddle = []byte(`","rec":`)
)

// splitEnvelope returns the record bytes and the stored checksum of a line.
func splitEnvelope(line []byte) ([]byte, uint32, error) {
	if n := len(envPrefix) + 8 + len(envMiddle); len(line) > n+1 && bytes.HasPrefix(line, envPrefix) &&
		bytes.Equal(line[len(envPrefix)+8:n], envMiddle) && line[len(line)-1] == '}' {
		if crc, err := strconv.ParseUint(string(line[len(envPrefix):len(envPrefix)+8]), 16, 32); err == nil {
			return line[n : len(line)-1], uint32(crc), nil
		}
	}
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		return nil, 0, fmt.Errorf("not a journal record: %w", err)
	}
	crc, err := strconv.ParseUint(env.CRC, 16, 32)
	if env.Rec == nil || err != nil {
		return nil, 0, fmt.Errorf("not a journal record: crc or rec missing")
	}
	return env.Rec, uint32(crc), nil
}
