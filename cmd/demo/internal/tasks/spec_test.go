package tasks_test

import (
	"strings"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
)

func TestParseSpec(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		want   tasks.Spec
		code   string            // "" = valid
		fields map[string]string // field → substring of its message
	}{
		{name: "minimal", body: `{"files":3}`, want: tasks.Spec{Files: 3, StepMS: tasks.DefaultStepMS}},
		{name: "full", body: `{"files":20,"step_ms":0,"fail_at":20}`, want: tasks.Spec{Files: 20, StepMS: 0, FailAt: 20}},
		{name: "max", body: ` {"files":10000,"step_ms":60000} `, want: tasks.Spec{Files: 10000, StepMS: 60000}},
		{name: "empty", body: "", code: "invalid_json"},
		{name: "blank", body: " \n", code: "invalid_json"},
		{name: "not json", body: `{"files":`, code: "invalid_json"},
		{name: "two values", body: `{"files":1}{}`, code: "invalid_json"},
		{name: "array", body: `[1]`, code: "invalid_message"},
		{name: "null", body: `null`, code: "invalid_message"},
		{name: "string", body: `"x"`, code: "invalid_message"},
		{name: "missing files", body: `{}`, code: "invalid_message", fields: map[string]string{"files": "required"}},
		{name: "files zero", body: `{"files":0}`, code: "invalid_message", fields: map[string]string{"files": "between 1 and 10000"}},
		{name: "files too many", body: `{"files":10001}`, code: "invalid_message", fields: map[string]string{"files": "between"}},
		{name: "files float", body: `{"files":1.5}`, code: "invalid_message", fields: map[string]string{"files": "integer"}},
		{name: "files string", body: `{"files":"3"}`, code: "invalid_message", fields: map[string]string{"files": "integer"}},
		{name: "files null", body: `{"files":null}`, code: "invalid_message", fields: map[string]string{"files": "integer"}},
		{name: "files huge", body: `{"files":1e400}`, code: "invalid_message", fields: map[string]string{"files": "integer"}},
		{name: "step negative", body: `{"files":1,"step_ms":-1}`, code: "invalid_message", fields: map[string]string{"step_ms": "between 0 and 60000"}},
		{name: "step too big", body: `{"files":1,"step_ms":60001}`, code: "invalid_message", fields: map[string]string{"step_ms": "between"}},
		{name: "fail_at beyond files", body: `{"files":3,"fail_at":4}`, code: "invalid_message", fields: map[string]string{"fail_at": "between 1 and files"}},
		{name: "fail_at negative", body: `{"files":3,"fail_at":-1}`, code: "invalid_message", fields: map[string]string{"fail_at": "0 (never)"}},
		{name: "unknown field", body: `{"files":3,"steps":5}`, code: "invalid_message", fields: map[string]string{"steps": "unknown field"}},
		{name: "case matters", body: `{"Files":3}`, code: "invalid_message", fields: map[string]string{"Files": "unknown", "files": "required"}},
		{name: "several", body: `{"files":0,"step_ms":"x","fail_at":-2}`, code: "invalid_message",
			fields: map[string]string{"files": "between", "step_ms": "integer", "fail_at": "0 (never)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ierr := tasks.ParseSpec([]byte(tt.body))
			if tt.code == "" {
				if ierr != nil {
					t.Fatalf("ParseSpec(%s) error %v", tt.body, ierr)
				}
				if got != tt.want {
					t.Fatalf("ParseSpec(%s) = %+v, want %+v", tt.body, got, tt.want)
				}
				return
			}
			if ierr == nil {
				t.Fatalf("ParseSpec(%s) = %+v, want error %s", tt.body, got, tt.code)
			}
			if ierr.Code != tt.code {
				t.Errorf("code %q, want %q (%v)", ierr.Code, tt.code, ierr)
			}
			if len(ierr.Fields) != len(tt.fields) {
				t.Errorf("fields %v, want keys of %v", ierr.Fields, tt.fields)
			}
			for k, sub := range tt.fields {
				if !strings.Contains(ierr.Fields[k], sub) {
					t.Errorf("field %s = %q, want it to contain %q", k, ierr.Fields[k], sub)
				}
			}
		})
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	if err := (tasks.Spec{Files: 1}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := (tasks.Spec{Files: 2, FailAt: 3}).Validate()
	if err == nil || !strings.Contains(err.Error(), "fail_at") {
		t.Fatalf("Validate = %v, want a fail_at error", err)
	}
}

// FuzzParseSpec checks that ParseSpec never panics and that whatever it
// accepts is in range and survives a round trip.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{`{"files":3}`, `{"files":20,"step_ms":5,"fail_at":2}`, `{}`, `[]`, `{"files":1e9}`, `{"x":{"y":[1,2]}}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ierr := tasks.ParseSpec(b)
		if ierr != nil {
			if ierr.Code != "invalid_json" && ierr.Code != "invalid_message" {
				t.Fatalf("code %q", ierr.Code)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted %q as %+v, which does not validate: %v", b, s, err)
		}
	})
}
