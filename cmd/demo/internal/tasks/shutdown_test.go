package tasks_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// workers counts the goroutines running a Runner's worker, from a dump of
// every goroutine's stack.
func workers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "tasks.(*Runner).worker(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// slowStore is a MemStore whose Put of a finished task waits for its
// context to end: a store on a slow disk, that honours cancellation.
type slowStore struct {
	*tasks.MemStore
	waited   atomic.Int64 // Puts that waited for their context
	inFlight atomic.Int64
}

func (s *slowStore) Put(ctx context.Context, t tasks.Task) error {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if t.Status.Terminal() {
		s.waited.Add(1)
		<-ctx.Done()
	}
	return s.MemStore.Put(ctx, t)
}

// Shutdown returns only once the workers have stopped, both when they
// finish in time and when its ctx ends first (the runner's goroutines do
// nothing after Shutdown returns), and every task still gets its terminal
// event. Not parallel: it counts every worker goroutine of the process.
func TestShutdownStopsWorkers(t *testing.T) {
	before := workers()
	for _, tc := range []struct {
		name    string
		store   func() tasks.Store
		timeout time.Duration
		want    error
	}{
		{"in time", func() tasks.Store { return tasks.NewMemStore(0) }, 10 * time.Second, nil},
		{"out of time", func() tasks.Store { return &slowStore{MemStore: tasks.NewMemStore(0)} }, 50 * time.Millisecond, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
			defer hub.Close()
			store := tc.store()
			r := tasks.NewRunner(tasks.RunnerConfig{Publisher: hub, Store: store, Workers: 3, QueueSize: 10})
			t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
			for deadline := time.Now().Add(5 * time.Second); workers() != before+3; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d workers running, want %d", workers()-before, 3)
				}
			}
			ctx := context.Background()
			var ids []string
			for range 6 {
				task, err := r.Submit(ctx, tasks.Spec{Files: 5, StepMS: 60000})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, task.ID)
			}
			sctx, cancel := context.WithTimeout(ctx, tc.timeout)
			defer cancel()
			if err := r.Shutdown(sctx); !errors.Is(err, tc.want) {
				t.Fatalf("Shutdown = %v, want %v", err, tc.want)
			}
			// Nothing happens after Shutdown returned: no store in flight,
			// no event published later; and the workers' goroutines, whose
			// last act was to say they stopped, are gone right after.
			published := hub.Stats().Published
			if s, ok := store.(*slowStore); ok {
				if s.waited.Load() == 0 || s.inFlight.Load() != 0 {
					t.Fatalf("store: %d Puts waited, %d still in flight", s.waited.Load(), s.inFlight.Load())
				}
			}
			time.Sleep(20 * time.Millisecond)
			if n := hub.Stats().Published; n != published {
				t.Fatalf("%d events published after Shutdown returned", n-published)
			}
			for deadline := time.Now().Add(2 * time.Second); workers() != before; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d workers still running after Shutdown returned", workers()-before)
				}
			}
			for _, id := range ids {
				if e := hub.Latest(tasks.Topic(id)); e == nil || e.Kind != taskstream.KindFailed {
					t.Errorf("task %s ended with %v, want a failed event", id, e)
				}
			}
		})
	}
}
