package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Limits of a Spec.
const (
	MaxFiles      = 10000
	MaxStepMS     = 60000
	DefaultStepMS = 100
)

// Spec is a task request: POST /api/tasks {"files":N,"step_ms":M,"fail_at":K}.
type Spec struct {
	// Files to process, 1..10000. Required.
	Files int `json:"files"`
	// StepMS is the time spent per file, 0..60000 ms. Default 100.
	StepMS int `json:"step_ms"`
	// FailAt makes the task fail at that file, 1..Files; 0 (the default)
	// never fails.
	FailAt int `json:"fail_at"`
}

// InputError describes invalid input. Code is "invalid_json" when the body is
// not JSON and "invalid_message" when it is JSON of the wrong shape; Fields
// names each bad field.
type InputError struct {
	Code    string
	Message string
	Fields  map[string]string
}

func (e *InputError) Error() string {
	if len(e.Fields) == 0 {
		return e.Code + ": " + e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + e.Fields[k]
	}
	return e.Code + ": " + e.Message + " (" + strings.Join(parts, "; ") + ")"
}

// Error codes of InputError (the same strings as the transports' codes).
const (
	CodeInvalidJSON    = "invalid_json"
	CodeInvalidMessage = "invalid_message"
)

// ParseSpec decodes and validates a task request. Field names match exactly;
// unknown fields, non-integers and out-of-range values are errors, and a
// missing step_ms means DefaultStepMS.
func ParseSpec(b []byte) (Spec, *InputError) {
	if len(bytes.TrimSpace(b)) == 0 {
		return Spec{}, &InputError{Code: CodeInvalidJSON, Message: "body is empty; want a JSON object"}
	}
	if !json.Valid(b) {
		return Spec{}, &InputError{Code: CodeInvalidJSON, Message: "body is not valid JSON"}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw == nil {
		return Spec{}, &InputError{Code: CodeInvalidMessage, Message: "body must be a JSON object"}
	}
	fields := map[string]string{}
	num := func(name string, def int) (int, bool) {
		r, ok := raw[name]
		if !ok {
			return def, false
		}
		var n int
		if bytes.Equal(bytes.TrimSpace(r), []byte("null")) || json.Unmarshal(r, &n) != nil {
			fields[name] = "must be an integer"
			return 0, true
		}
		return n, true
	}
	s := Spec{}
	var given bool
	if s.Files, given = num("files", 0); !given {
		fields["files"] = "required"
	}
	s.StepMS, _ = num("step_ms", DefaultStepMS)
	s.FailAt, _ = num("fail_at", 0)
	for k := range raw {
		switch k {
		case "files", "step_ms", "fail_at":
		default:
			fields[k] = "unknown field; want files, step_ms, fail_at"
		}
	}
	s.validate(fields)
	if len(fields) > 0 {
		return Spec{}, &InputError{Code: CodeInvalidMessage, Message: "invalid task request", Fields: fields}
	}
	return s, nil
}

// Validate checks the ranges of a Spec built in Go.
func (s Spec) Validate() error {
	fields := map[string]string{}
	s.validate(fields)
	if len(fields) > 0 {
		return &InputError{Code: CodeInvalidMessage, Message: "invalid task request", Fields: fields}
	}
	return nil
}

// validate adds range problems for fields not already reported.
func (s Spec) validate(fields map[string]string) {
	set := func(name, msg string) {
		if _, ok := fields[name]; !ok {
			fields[name] = msg
		}
	}
	if s.Files < 1 || s.Files > MaxFiles {
		set("files", fmt.Sprintf("must be between 1 and %d", MaxFiles))
	}
	if s.StepMS < 0 || s.StepMS > MaxStepMS {
		set("step_ms", fmt.Sprintf("must be between 0 and %d", MaxStepMS))
	}
	if s.FailAt < 0 || s.FailAt > MaxFiles || (s.Files >= 1 && s.FailAt > s.Files) {
		set("fail_at", "must be 0 (never) or between 1 and files")
	}
}
