package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// Runner defaults.
const (
	DefaultWorkers   = 8
	DefaultQueueSize = 1000
)

// Errors returned by Runner.Submit.
var (
	// ErrQueueFull: every worker is busy and the queue is at capacity
	// (the API answers 503 with Retry-After).
	ErrQueueFull = errors.New("tasks: queue full")
	// ErrClosed: the runner is shutting down.
	ErrClosed = errors.New("tasks: runner closed")
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Publisher receives every task event. Required.
	Publisher transports.Publisher
	// Store keeps task state. Default: NewMemStore(0).
	Store Store
	// Workers is how many tasks run at once. Default 8 (tasks mostly
	// wait, so this bounds concurrency, not CPU).
	Workers int
	// QueueSize bounds the tasks waiting for a worker. Default 1,000.
	QueueSize int
	// Logger receives task lifecycle records at debug level and publish
	// failures at warn; nil is silent.
	Logger *slog.Logger
}

// Runner executes tasks in a bounded worker pool. Its workers are its only
// goroutines: NewRunner starts them and Shutdown returns only once every
// one has stopped. All methods are safe for concurrent use.
type Runner struct {
	pub   transports.Publisher
	store Store
	log   *slog.Logger

	workers int
	ctx     context.Context // cancelled by Shutdown: running tasks stop
	cancel  context.CancelFunc
	// finishing is the context of the stores and publishes that end tasks.
	// Shutdown cancels it only when its own ctx ends before the workers
	// have stopped, so that they give up waiting instead of outliving it.
	finishing context.Context
	abort     context.CancelFunc
	live      atomic.Int64  // workers not yet returned
	stopped   chan struct{} // closed by the last worker to return

	mu     sync.Mutex // orders Submit against Shutdown; guards closed and sends to jobs
	closed bool
	jobs   chan Task

	running   atomic.Int64
	submitted atomic.Uint64
	rejected  atomic.Uint64
	completed atomic.Uint64
	failed    atomic.Uint64
}

// NewRunner starts a runner's workers.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Publisher == nil {
		panic("tasks: RunnerConfig.Publisher is required")
	}
	if cfg.Store == nil {
		cfg.Store = NewMemStore(0)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	finishing, abort := context.WithCancel(context.Background())
	r := &Runner{
		pub: cfg.Publisher, store: cfg.Store, log: cfg.Logger,
		workers: cfg.Workers, ctx: ctx, cancel: cancel,
		finishing: finishing, abort: abort, stopped: make(chan struct{}),
		jobs: make(chan Task, cfg.QueueSize),
	}
	r.live.Store(int64(cfg.Workers))
	for range cfg.Workers {
		go r.worker() // owner: the runner; Shutdown closes jobs and waits until every worker has returned
	}
	return r
}

// Store returns the runner's store.
func (r *Runner) Store() Store { return r.store }

// Submit validates spec, stores the task as queued, publishes its "queued"
// event (seq 1) and queues it. It fails with an *InputError for a bad spec,
// ErrQueueFull when the queue is full and ErrClosed after Shutdown; in those
// cases nothing was stored or published.
func (r *Runner) Submit(ctx context.Context, spec Spec) (Task, error) {
	if err := spec.Validate(); err != nil {
		return Task{}, err
	}
	now := time.Now().UTC()
	t := Task{
		ID: newID(), Status: StatusQueued, Message: "queued",
		Files: spec.Files, StepMS: spec.StepMS, FailAt: spec.FailAt,
		CreatedAt: now, UpdatedAt: now,
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return Task{}, ErrClosed
	}
	// Only Submit sends, under r.mu, so a free slot now is a free slot at
	// the send below.
	if len(r.jobs) == cap(r.jobs) {
		r.rejected.Add(1)
		return Task{}, ErrQueueFull
	}
	if err := r.store.Put(ctx, t); err != nil {
		return Task{}, fmt.Errorf("tasks: storing task: %w", err)
	}
	r.publish(ctx, t, taskstream.KindQueued)
	r.jobs <- t
	r.submitted.Add(1)
	r.log.Debug("task queued", "id", t.ID, "files", t.Files, "step_ms", t.StepMS, "fail_at", t.FailAt)
	return t, nil
}

func (r *Runner) worker() {
	defer func() {
		if r.live.Add(-1) == 0 {
			close(r.stopped)
		}
	}()
	for t := range r.jobs {
		r.execute(t)
	}
}

// execute runs one task to its end. The worker is the task's only writer
// from here on, so store state and published events stay in step.
func (r *Runner) execute(t Task) {
	r.running.Add(1)
	defer r.running.Add(-1)
	// Terminal events are published even while shutting down.
	bg := r.finishing
	started := time.Now()
	step := time.Duration(t.StepMS) * time.Millisecond
	var timer *time.Timer
	if step > 0 {
		timer = time.NewTimer(step)
		defer timer.Stop()
	}
	for i := 1; i <= t.Files; i++ {
		if r.ctx.Err() != nil {
			r.finish(bg, t, StatusFailed, ErrShuttingDown, started)
			return
		}
		t.Status = StatusRunning
		t.Progress = (i - 1) * 100 / t.Files
		t.Done = i - 1
		t.Message = fmt.Sprintf("processing %d/%d", i, t.Files)
		r.update(bg, &t, taskstream.KindProgress)
		if timer != nil {
			if i > 1 {
				timer.Reset(step)
			}
			select {
			case <-timer.C:
			case <-r.ctx.Done():
				r.finish(bg, t, StatusFailed, ErrShuttingDown, started)
				return
			}
		}
		if i == t.FailAt {
			r.finish(bg, t, StatusFailed, fmt.Sprintf("file %d/%d failed", i, t.Files), started)
			return
		}
	}
	t.Done = t.Files
	r.finish(bg, t, StatusCompleted, "", started)
}

// finish records and publishes a terminal state.
func (r *Runner) finish(ctx context.Context, t Task, st Status, errMsg string, started time.Time) {
	t.Status = st
	switch st {
	case StatusCompleted:
		t.Progress = 100
		t.Message = fmt.Sprintf("completed %d files", t.Files)
		t.Result = &Result{Processed: t.Done, ElapsedMS: time.Since(started).Milliseconds()}
		r.completed.Add(1)
	default:
		t.Error = errMsg
		t.Message = "failed: " + errMsg
		r.failed.Add(1)
	}
	kind := taskstream.KindFailed
	if st == StatusCompleted {
		kind = taskstream.KindCompleted
	}
	r.update(ctx, &t, kind)
	r.log.Debug("task finished", "id", t.ID, "status", st, "error", t.Error)
}

// update stamps, stores and publishes t.
func (r *Runner) update(ctx context.Context, t *Task, kind string) {
	t.UpdatedAt = time.Now().UTC()
	if err := r.store.Put(ctx, *t); err != nil {
		r.log.Warn("task state not stored", "id", t.ID, "err", err)
	}
	r.publish(ctx, *t, kind)
}

func (r *Runner) publish(ctx context.Context, t Task, kind string) {
	if _, err := r.pub.Publish(ctx, t.Topic(), kind, t.JSON()); err != nil {
		r.log.Warn("task event not published", "id", t.ID, "event", kind, "err", err)
	}
}

// Shutdown refuses new tasks, stops running ones and fails every queued and
// running task with ErrShuttingDown, publishing each terminal event. It
// returns once every worker has stopped: no goroutine of the runner
// outlives it. If ctx ends first, the workers' remaining stores and
// publishes get a cancelled context (a Store that honours it gives up at
// once; the hub never blocks), and Shutdown returns ctx's error when they
// have stopped. It is idempotent.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.jobs) // workers drain the queue, failing each task at once
	}
	r.mu.Unlock()
	r.cancel()
	select {
	case <-r.stopped:
		r.abort() // nothing is left to finish
		return nil
	case <-ctx.Done():
		r.abort()
		<-r.stopped
		return ctx.Err()
	}
}

// RunnerStats is a snapshot of a runner's counters.
type RunnerStats struct {
	Workers   int    `json:"workers"`
	QueueSize int    `json:"queue_size"`
	Queued    int    `json:"queued"`  // waiting for a worker now
	Running   int64  `json:"running"` // running now
	Submitted uint64 `json:"submitted"`
	Rejected  uint64 `json:"rejected"` // refused with ErrQueueFull
	Completed uint64 `json:"completed"`
	Failed    uint64 `json:"failed"`
}

// Stats returns current counters.
func (r *Runner) Stats() RunnerStats {
	return RunnerStats{
		Workers: r.workers, QueueSize: cap(r.jobs), Queued: len(r.jobs),
		Running: r.running.Load(), Submitted: r.submitted.Load(), Rejected: r.rejected.Load(),
		Completed: r.completed.Load(), Failed: r.failed.Load(),
	}
}

// newID returns a random 16-hex-digit task id.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
