package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// follow subscribes to a task's topic from seq 0 (so the queued event is
// replayed) and returns a func collecting its events until the terminal one.
func follow(t *testing.T, hub *transports.Hub, id string) func() []*transports.Event {
	t.Helper()
	topic := tasks.Topic(id)
	sub, _, err := hub.Attach("test", transports.Stream{
		Topics: []string{topic}, Single: topic, Cursors: transports.Cursors{topic: 0}, EndOnTerminal: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Close(nil) })
	return func() []*transports.Event {
		t.Helper()
		var out []*transports.Event
		deadline := time.After(20 * time.Second)
		for {
			select {
			case <-sub.Ready():
			case <-sub.Done():
				t.Fatalf("subscriber closed: %v", sub.Cause())
			case <-deadline:
				t.Fatalf("task %s: no terminal event; got %d events", id, len(out))
			}
			for _, it := range sub.Drain(nil) {
				out = append(out, it.Event)
				if it.End {
					return out
				}
			}
		}
	}
}

func decode(t *testing.T, e *transports.Event) tasks.Task {
	t.Helper()
	var task tasks.Task
	if err := json.Unmarshal(e.Data, &task); err != nil {
		t.Fatalf("event %d data: %v", e.Seq, err)
	}
	return task
}

func newRunner(t *testing.T, cfg tasks.RunnerConfig) (*tasks.Runner, *transports.Hub) {
	t.Helper()
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	cfg.Publisher = hub
	r := tasks.NewRunner(cfg)
	t.Cleanup(func() {
		if err := r.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		hub.Close()
	})
	return r, hub
}

func TestRunnerEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec   tasks.Spec
		kinds  string
		status tasks.Status
		errMsg string
	}{
		{tasks.Spec{Files: 3, StepMS: 1}, "queued progress progress progress completed", tasks.StatusCompleted, ""},
		{tasks.Spec{Files: 1, StepMS: 0}, "queued progress completed", tasks.StatusCompleted, ""},
		{tasks.Spec{Files: 4, StepMS: 1, FailAt: 2}, "queued progress progress failed", tasks.StatusFailed, "file 2/4 failed"},
		{tasks.Spec{Files: 2, StepMS: 0, FailAt: 1}, "queued progress failed", tasks.StatusFailed, "file 1/2 failed"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.spec), func(t *testing.T) {
			t.Parallel()
			r, hub := newRunner(t, tasks.RunnerConfig{Workers: 2})
			task, err := r.Submit(context.Background(), tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != tasks.StatusQueued || task.ID == "" || task.Files != tt.spec.Files {
				t.Fatalf("Submit = %+v", task)
			}
			evs := follow(t, hub, task.ID)()
			var kinds []string
			for i, e := range evs {
				kinds = append(kinds, e.Kind)
				if e.Seq != uint64(i+1) {
					t.Errorf("event %d has seq %d", i, e.Seq)
				}
				got := decode(t, e)
				if got.ID != task.ID || got.Files != tt.spec.Files || got.StepMS != tt.spec.StepMS || got.FailAt != tt.spec.FailAt {
					t.Errorf("event %d data is not the full task: %+v", e.Seq, got)
				}
				if e.Kind == taskstream.KindProgress {
					want := tasks.Task{Status: tasks.StatusRunning, Progress: (i - 1) * 100 / tt.spec.Files, Done: i - 1,
						Message: fmt.Sprintf("processing %d/%d", i, tt.spec.Files)}
					if got.Status != want.Status || got.Progress != want.Progress || got.Done != want.Done || got.Message != want.Message {
						t.Errorf("progress event %d = %+v, want %+v", e.Seq, got, want)
					}
				}
			}
			if strings.Join(kinds, " ") != tt.kinds {
				t.Fatalf("kinds = %v, want %s", kinds, tt.kinds)
			}
			last := decode(t, evs[len(evs)-1])
			if last.Status != tt.status || last.Error != tt.errMsg {
				t.Fatalf("terminal = %+v", last)
			}
			if tt.status == tasks.StatusCompleted && (last.Progress != 100 || last.Result == nil || last.Result.Processed != tt.spec.Files) {
				t.Fatalf("completed = %+v", last)
			}
			stored, err := r.Store().Get(context.Background(), task.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(stored.JSON()) != string(evs[len(evs)-1].Data) {
				t.Fatalf("store %s\nlast event %s", stored.JSON(), evs[len(evs)-1].Data)
			}
		})
	}
}

func TestRunnerQueueFull(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t, tasks.RunnerConfig{Workers: 1, QueueSize: 2})
	long := tasks.Spec{Files: 1, StepMS: 60000}
	var accepted int
	var err error
	// One task may be picked by the worker, two wait: the 4th submit at the
	// latest is refused.
	for range 4 {
		if _, err = r.Submit(context.Background(), long); err != nil {
			break
		}
		accepted++
	}
	if !errors.Is(err, tasks.ErrQueueFull) || accepted < 2 || accepted > 3 {
		t.Fatalf("after %d accepted: %v, want ErrQueueFull", accepted, err)
	}
	if st := r.Stats(); st.Rejected != 1 || st.QueueSize != 2 || st.Workers != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRunnerSubmitInvalid(t *testing.T) {
	t.Parallel()
	r, _ := newRunner(t, tasks.RunnerConfig{})
	_, err := r.Submit(context.Background(), tasks.Spec{Files: 0})
	var ierr *tasks.InputError
	if !errors.As(err, &ierr) || ierr.Fields["files"] == "" {
		t.Fatalf("Submit(files 0) = %v", err)
	}
	if list, _ := r.Store().List(context.Background(), tasks.Query{}); len(list) != 0 {
		t.Fatalf("invalid task stored: %+v", list)
	}
}

// TestRunnerShutdown: running and queued tasks end failed with a published
// terminal event; later submits are refused.
func TestRunnerShutdown(t *testing.T) {
	t.Parallel()
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	defer hub.Close()
	r := tasks.NewRunner(tasks.RunnerConfig{Publisher: hub, Workers: 1, QueueSize: 5})
	ctx := context.Background()
	running, err := r.Submit(ctx, tasks.Spec{Files: 5, StepMS: 60000})
	if err != nil {
		t.Fatal(err)
	}
	queued, err := r.Submit(ctx, tasks.Spec{Files: 5, StepMS: 60000})
	if err != nil {
		t.Fatal(err)
	}
	runningEvents, queuedEvents := follow(t, hub, running.ID), follow(t, hub, queued.ID)
	// Wait until the first task is running (its first progress event).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if e := hub.Latest(running.Topic()); e != nil && e.Kind == taskstream.KindProgress {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("task never started")
		}
	}
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Shutdown(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	for name, evs := range map[string][]*transports.Event{"running": runningEvents(), "queued": queuedEvents()} {
		last := evs[len(evs)-1]
		task := decode(t, last)
		if last.Kind != taskstream.KindFailed || task.Status != tasks.StatusFailed || task.Error != tasks.ErrShuttingDown {
			t.Errorf("%s task ended with %s %+v", name, last.Kind, task)
		}
		stored, _ := r.Store().Get(ctx, task.ID)
		if stored.Status != tasks.StatusFailed {
			t.Errorf("%s task stored as %s", name, stored.Status)
		}
	}
	if _, err := r.Submit(ctx, tasks.Spec{Files: 1}); !errors.Is(err, tasks.ErrClosed) {
		t.Fatalf("Submit after Shutdown = %v, want ErrClosed", err)
	}
	if st := r.Stats(); st.Failed != 2 || st.Running != 0 {
		t.Fatalf("stats %+v", st)
	}
}
