package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// newQueue builds a Queue on url's Redis, shut down when the test ends.
func newQueue(t *testing.T, url string, cfg tasks.QueueConfig) *tasks.Queue {
	t.Helper()
	cfg.Redis = newRedis(t, url)
	q, err := tasks.NewQueue(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Shutdown(ctx); err != nil {
			t.Errorf("queue shutdown: %v", err)
		}
	})
	return q
}

func newHub(t *testing.T) *transports.Hub {
	t.Helper()
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	t.Cleanup(hub.Close)
	return hub
}

// An edge (no workers) enqueues, a worker elsewhere runs the task: the
// events are the Runner's, in order, and every process's store sees the
// end. The two "processes" share one hub here, as nodes share a broker.
func TestQueueEdgeAndWorker(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	hub := newHub(t)
	edge := newQueue(t, url, tasks.QueueConfig{Publisher: hub})
	newQueue(t, url, tasks.QueueConfig{Publisher: hub, Workers: 2})
	other := tasks.NewRedisStore(newRedis(t, url), tasks.RedisStoreConfig{}) // a third node's view

	for _, tc := range []struct {
		spec   tasks.Spec
		kinds  string
		status tasks.Status
	}{
		{tasks.Spec{Files: 3, StepMS: 5}, "queued progress progress progress completed", tasks.StatusCompleted},
		{tasks.Spec{Files: 4, StepMS: 5, FailAt: 2}, "queued progress progress failed", tasks.StatusFailed},
	} {
		task, err := edge.Submit(context.Background(), tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		events := follow(t, hub, task.ID)()
		kinds := make([]string, len(events))
		for i, e := range events {
			kinds[i] = e.Kind
			if e.Seq != uint64(i+1) {
				t.Errorf("event %d has seq %d", i, e.Seq)
			}
		}
		if got := strings.Join(kinds, " "); got != tc.kinds {
			t.Errorf("%+v: events %q, want %q", tc.spec, got, tc.kinds)
		}
		got, err := other.Get(context.Background(), task.ID)
		if err != nil || got.Status != tc.status || got.Attempts != 1 {
			t.Errorf("%+v: another node's store has %+v, %v; want %s after 1 attempt", tc.spec, got, err, tc.status)
		}
		if last := decode(t, events[len(events)-1]); last.Status != got.Status || last.Done != got.Done {
			t.Errorf("terminal event %+v differs from the store's %+v", last, got)
		}
	}
	if st := edge.Stats(); st.Submitted != 2 || st.Workers != 0 || st.Completed != 0 {
		t.Errorf("edge stats %+v: want 2 submitted, no workers, none run here", st)
	}
}

// A worker that shuts down hands its running task back; another worker
// continues it from where the store says, without counting a retry
// against MaxRetry (MaxRetry is -1 here: a counted retry would fail it).
func TestQueueShutdownHandsBack(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	hub := newHub(t)
	edge := newQueue(t, url, tasks.QueueConfig{Publisher: hub, MaxRetry: -1})
	first, err := tasks.NewQueue(tasks.QueueConfig{Redis: newRedis(t, url), Publisher: hub, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Shutdown(context.Background()) })
	task, err := edge.Submit(context.Background(), tasks.Spec{Files: 20, StepMS: 50})
	if err != nil {
		t.Fatal(err)
	}
	events := follow(t, hub, task.ID)
	waitTask(t, edge.Store(), task.ID, 10*time.Second, func(x tasks.Task) bool { return x.Done >= 3 })
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	handed, _ := edge.Store().Get(context.Background(), task.ID)
	if handed.Status != tasks.StatusRunning {
		t.Fatalf("after the worker's shutdown the task is %s, want still running (handed back)", handed.Status)
	}
	newQueue(t, url, tasks.QueueConfig{Publisher: hub, Workers: 1})
	evs := events()
	final := decode(t, evs[len(evs)-1])
	if final.Status != tasks.StatusCompleted || final.Attempts != 2 || final.Done != 20 {
		t.Fatalf("final state %+v, want completed in 2 attempts", final)
	}
	// Progress never goes back: the second attempt continued.
	done := -1
	for _, e := range evs[1:] {
		if d := decode(t, e).Done; d < done {
			t.Fatalf("seq %d: done went back from %d to %d", e.Seq, done, d)
		} else {
			done = d
		}
	}
}

func TestQueueRefuses(t *testing.T) {
	t.Parallel()
	url := startRedis(t)
	hub := newHub(t)
	q := newQueue(t, url, tasks.QueueConfig{Publisher: hub, MaxPending: 1})
	ctx := context.Background()
	if _, err := q.Submit(ctx, tasks.Spec{Files: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Submit(ctx, tasks.Spec{Files: 1}); !errors.Is(err, tasks.ErrQueueFull) {
		t.Fatalf("second Submit with MaxPending 1 and no worker: %v, want ErrQueueFull", err)
	}
	var ie *tasks.InputError
	if _, err := q.Submit(ctx, tasks.Spec{Files: 0}); !errors.As(err, &ie) {
		t.Fatalf("bad spec: %v, want an InputError", err)
	}
	nowhere, _ := redis.ParseURL(fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t)))
	nowhere.MaxRetries = -1
	rdb := redis.NewClient(nowhere)
	defer rdb.Close()
	down, err := tasks.NewQueue(tasks.QueueConfig{Redis: rdb, Publisher: hub})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Shutdown(ctx)
	if _, err := down.Submit(ctx, tasks.Spec{Files: 1}); !errors.Is(err, tasks.ErrUnavailable) {
		t.Fatalf("Submit with Redis down: %v, want ErrUnavailable", err)
	}
	_ = q.Shutdown(ctx)
	if _, err := q.Submit(ctx, tasks.Spec{Files: 1}); !errors.Is(err, tasks.ErrClosed) {
		t.Fatalf("Submit after Shutdown: %v, want ErrClosed", err)
	}
}

// waitTask polls the store until ok(task) holds.
func waitTask(t *testing.T, s tasks.Store, id string, within time.Duration, ok func(tasks.Task) bool) tasks.Task {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err := s.Get(context.Background(), id)
		if err == nil && ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s: condition not met within %v; last %+v, %v", id, within, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workerEnv tells the test binary, run again as a child, to be a worker
// process on the Redis it names (TestWorkerProcess).
const workerEnv = "TWINSTREAM_TASKS_WORKER_REDIS"

// TestWorkerProcess is not a test: run as a child with workerEnv set, it is
// a worker-only process (two workers) until it is killed.
func TestWorkerProcess(t *testing.T) {
	url := os.Getenv(workerEnv)
	if url == "" {
		t.Skip("a helper: runs only as a child of TestQueueWorkerKilled")
	}
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	newQueue(t, url, tasks.QueueConfig{Publisher: hub, Workers: 2})
	fmt.Println("worker ready")
	select {} // until SIGKILL
}

// A worker process killed with SIGKILL mid-task: once asynq's lease has
// run out, a task with retries left is continued by another worker and
// completes; a task without retries ends failed. Neither stays running.
// This waits for asynq's recoverer: about a minute.
func TestQueueWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits about a minute for asynq's lease to run out")
	}
	t.Parallel()
	url := startRedis(t)
	hub := newHub(t)
	retrying := newQueue(t, url, tasks.QueueConfig{Publisher: hub})
	once := newQueue(t, url, tasks.QueueConfig{Publisher: hub, MaxRetry: -1})

	child := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.v")
	child.Env = append(os.Environ(), workerEnv+"="+url)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }() // owner: this test; it waits for exited after the kill

	spec := tasks.Spec{Files: 40, StepMS: 100}
	a, err := retrying.Submit(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := once.Submit(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	eventsA, eventsB := follow(t, hub, a.ID), follow(t, hub, b.ID)
	for _, id := range []string{a.ID, b.ID} {
		waitTask(t, retrying.Store(), id, 20*time.Second, func(x tasks.Task) bool { return x.Done >= 2 })
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	killed := time.Now()
	before, _ := retrying.Store().Get(context.Background(), a.ID)
	if before.Status != tasks.StatusRunning || before.Done >= spec.Files {
		t.Fatalf("task %s was %+v when its worker died, want running mid-task\n%s", a.ID, before, out.String())
	}

	newQueue(t, url, tasks.QueueConfig{Publisher: hub, Workers: 2}) // the surviving worker
	const bound = 3 * time.Minute                                   // asynq: 30 s lease + 30 s allowance + 1 min between looks
	end := func(x tasks.Task) bool { return x.Status.Terminal() }
	gotA := waitTask(t, retrying.Store(), a.ID, bound, end)
	gotB := waitTask(t, retrying.Store(), b.ID, bound, end)
	t.Logf("ended %v after the kill", time.Since(killed).Round(time.Second))
	if gotA.Status != tasks.StatusCompleted || gotA.Attempts != 2 || gotA.Done != spec.Files {
		t.Errorf("task with retries: %+v, want completed at the 2nd attempt", gotA)
	}
	if gotB.Status != tasks.StatusFailed || !strings.Contains(gotB.Error, "lease expired") {
		t.Errorf("task without retries: %+v, want failed for a lost lease", gotB)
	}
	for id, evs := range map[string][]*transports.Event{a.ID: eventsA(), b.ID: eventsB()} {
		last := evs[len(evs)-1]
		if want, _ := retrying.Store().Get(context.Background(), id); last.Kind != string(want.Status) {
			t.Errorf("task %s: last event %s, store says %s", id, last.Kind, want.Status)
		}
	}
}
