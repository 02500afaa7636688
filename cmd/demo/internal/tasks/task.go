package tasks

import (
	"encoding/json"
	"time"

	"github.com/twinstream/twinstream/transports/taskstream"
)

// Status is a task's lifecycle state.
type Status string

// Task statuses. Completed and failed are terminal.
const (
	StatusQueued    Status = "queued"
	StatusRunning   Status = "running"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Terminal reports whether the status is final.
func (s Status) Terminal() bool { return s == StatusCompleted || s == StatusFailed }

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusRunning, StatusCompleted, StatusFailed:
		return true
	}
	return false
}

// ErrShuttingDown is the error of tasks ended by Runner.Shutdown.
const ErrShuttingDown = "server shutting down"

// Task is the full state of one task: the body of GET /api/tasks/:id and the
// data of every event on its topic. Tasks are values; a Store hands out
// copies.
type Task struct {
	ID       string `json:"id"`
	Status   Status `json:"status"`
	Progress int    `json:"progress"` // 0..100
	Message  string `json:"message"`
	Done     int    `json:"done"` // files finished

	Files  int `json:"files"`
	StepMS int `json:"step_ms"`
	FailAt int `json:"fail_at"`

	Result *Result `json:"result,omitempty"` // set when completed
	Error  string  `json:"error,omitempty"`  // set when failed
	// Attempts counts the runs a Queue started (absent for the in-process
	// Runner): 2 or more means a worker died or handed the task back and
	// another attempt continued it.
	Attempts int `json:"attempts,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Result is what a completed task produced.
type Result struct {
	Processed int   `json:"processed"`  // files processed
	ElapsedMS int64 `json:"elapsed_ms"` // from start of the first file to completion
}

// JSON encodes the task (its event data and API form).
func (t Task) JSON() []byte {
	b, err := json.Marshal(t)
	if err != nil {
		// Task has only plain fields; this cannot fail.
		panic("tasks: encoding task: " + err.Error())
	}
	return b
}

// Topic is the topic the task's events are published to.
func (t Task) Topic() string { return Topic(t.ID) }

// Topic returns the topic of task id: "task:<id>" (taskstream.Topic).
func Topic(id string) string { return taskstream.Topic(id) }
