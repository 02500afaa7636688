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

// An Executor runs tasks: the Runner in this process, the Queue across
// processes on Redis. The demo server uses either through this interface.
type Executor interface {
	// Submit validates spec, stores and publishes the task as queued and
	// hands it to a worker; it returns at once.
	Submit(ctx context.Context, spec Spec) (Task, error)
	// Stats returns the executor's counters.
	Stats() RunnerStats
	// Shutdown stops the executor's workers (see each type).
	Shutdown(ctx context.Context) error
	// Store returns where task state is kept.
	Store() Store
}

var (
	_ Executor = (*Runner)(nil)
	_ Executor = (*Queue)(nil)
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
	x     *steps
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

	submitted atomic.Uint64
	rejected  atomic.Uint64
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
		x:     &steps{pub: cfg.Publisher, store: cfg.Store, log: cfg.Logger},
		store: cfg.Store, log: cfg.Logger,
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
	t := newTask(spec)
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
	r.x.publish(ctx, t, taskstream.KindQueued)
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
// from here on, so store state and published events stay in step. A task
// stopped by Shutdown ends failed with ErrShuttingDown (terminal events are
// stored and published even while shutting down).
func (r *Runner) execute(t Task) {
	last, err := r.x.run(r.ctx, r.finishing, t)
	if errors.Is(err, errStopped) {
		_, _ = r.x.finish(r.finishing, last, StatusFailed, ErrShuttingDown, time.Now())
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
	// Retried counts attempts that continued a task another attempt had
	// left (Queue only: its worker died or handed it back).
	Retried uint64 `json:"retried,omitempty"`
}

// Stats returns current counters.
func (r *Runner) Stats() RunnerStats {
	return RunnerStats{
		Workers: r.workers, QueueSize: cap(r.jobs), Queued: len(r.jobs),
		Running: r.x.running.Load(), Submitted: r.submitted.Load(), Rejected: r.rejected.Load(),
		Completed: r.x.completed.Load(), Failed: r.x.failed.Load(),
	}
}

// newTask returns a new queued task for spec.
func newTask(spec Spec) Task {
	now := time.Now().UTC()
	return Task{
		ID: newID(), Status: StatusQueued, Message: "queued",
		Files: spec.Files, StepMS: spec.StepMS, FailAt: spec.FailAt,
		CreatedAt: now, UpdatedAt: now,
	}
}

// newID returns a random 16-hex-digit task id.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
