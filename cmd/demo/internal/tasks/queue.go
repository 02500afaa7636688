package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// Queue defaults.
const (
	DefaultQueueName  = "twinstream"
	DefaultMaxRetry   = 3
	DefaultRetryDelay = time.Second
	DefaultReapEvery  = 2 * time.Second
	DefaultPollEvery  = 100 * time.Millisecond
)

// ErrUnavailable wraps a Submit that failed because Redis did not answer
// (the API answers 503).
var ErrUnavailable = errors.New("tasks: queue unavailable")

// taskType is the asynq task type of a twinstream task.
const taskType = "twinstream:task"

// QueueConfig configures a Queue.
type QueueConfig struct {
	// Redis holds the job queue (asynq's keys) and, by default, the Store.
	// Required; the Queue does not close it.
	Redis redis.UniversalClient
	// Publisher receives every task event. Required.
	Publisher transports.Publisher
	// Store keeps task state; it must be shared by every process of the
	// deployment. Default NewRedisStore(Redis, RedisStoreConfig{}).
	Store Store
	// Workers is how many tasks this process runs at once. 0 (the default)
	// runs none: the process only enqueues (--role edge).
	Workers int
	// MaxPending bounds the tasks waiting in Redis for a worker; past it
	// Submit fails with ErrQueueFull. Default DefaultQueueSize (1,000).
	MaxPending int
	// MaxRetry is how many times a task is run again after an attempt that
	// did not end it (its worker died or lost its lease, or stopped with an
	// error). 0 means DefaultMaxRetry (3); negative means never.
	MaxRetry int
	// RetryDelay is the wait before the first retry; it doubles with each
	// further one, up to 32 times. Default 1s.
	RetryDelay time.Duration
	// ReapEvery is how often a process with workers looks for tasks asynq
	// gave up on (archived) and marks them failed. Default 2s.
	ReapEvery time.Duration
	// PollEvery is how often an idle worker asks Redis for a task (asynq
	// polls). Default 100ms.
	PollEvery time.Duration
	// Name is the asynq queue. Default "twinstream".
	Name string
	// Logger receives task lifecycle and asynq's records; nil is silent.
	Logger *slog.Logger
}

// Queue runs tasks across processes: Submit stores a task as queued,
// publishes its "queued" event and enqueues it in a Redis-backed asynq
// queue, then returns; whichever process has workers (this one or any
// other on the same Redis) picks it up, runs it like the Runner and
// publishes its events through its own Publisher. Task state lives in the
// Store, shared by every process, so any node answers for any task.
//
// # A worker that dies
//
// A worker holds a lease on its task, extended every few seconds. A worker
// that is killed (SIGKILL, a crashed machine) stops extending it; asynq's
// recoverer, running in every process with workers, hands the task to
// another attempt once the lease has been expired for 30 s (it looks once
// a minute, so within about two minutes). The new attempt continues from
// the last file the store recorded; the task's "attempts" counts the runs.
// A task whose retries are used up is archived by asynq, and the Queue's
// reaper marks it failed and publishes its "failed" event. So a task ends
// completed or failed, never running forever, as long as some process
// with workers is up.
//
// Shutdown hands running tasks back to the queue at once (asynq requeues
// them without counting a retry): with Redis a task outlives the process
// that ran it. Their state stays as it was until another worker continues
// them.
//
// All methods are safe for concurrent use.
type Queue struct {
	x      *steps
	store  Store
	rdb    redis.UniversalClient
	client *asynq.Client
	srv    *asynq.Server // nil without workers
	insp   *asynq.Inspector
	log    *slog.Logger

	name       string
	workers    int
	maxPending int
	maxRetry   int
	reapEvery  time.Duration

	closed    atomic.Bool
	submitted atomic.Uint64
	rejected  atomic.Uint64
	retried   atomic.Uint64

	mu       sync.Mutex // guards the handler count and stopping
	live     int        // handlers running now
	stopping bool
	drained  chan struct{} // closed when stopping and live reaches 0

	stopReap chan struct{}
	reapDone chan struct{}
}

// NewQueue builds a queue and, with Workers, starts its asynq server and
// its reaper. Call Shutdown to stop them.
func NewQueue(cfg QueueConfig) (*Queue, error) {
	if cfg.Redis == nil {
		panic("tasks: QueueConfig.Redis is required")
	}
	if cfg.Publisher == nil {
		panic("tasks: QueueConfig.Publisher is required")
	}
	if cfg.Store == nil {
		cfg.Store = NewRedisStore(cfg.Redis, RedisStoreConfig{})
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultQueueSize
	}
	switch {
	case cfg.MaxRetry == 0:
		cfg.MaxRetry = DefaultMaxRetry
	case cfg.MaxRetry < 0:
		cfg.MaxRetry = 0
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	if cfg.ReapEvery <= 0 {
		cfg.ReapEvery = DefaultReapEvery
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = DefaultPollEvery
	}
	if cfg.Name == "" {
		cfg.Name = DefaultQueueName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	q := &Queue{
		x:     &steps{pub: cfg.Publisher, store: cfg.Store, log: cfg.Logger},
		store: cfg.Store, rdb: cfg.Redis, log: cfg.Logger,
		client: asynq.NewClientFromRedisClient(cfg.Redis),
		insp:   asynq.NewInspectorFromRedisClient(cfg.Redis),
		name:   cfg.Name, workers: max(cfg.Workers, 0), maxPending: cfg.MaxPending,
		maxRetry: cfg.MaxRetry, reapEvery: cfg.ReapEvery,
		drained: make(chan struct{}), stopReap: make(chan struct{}), reapDone: make(chan struct{}),
	}
	if q.workers == 0 {
		close(q.reapDone)
		return q, nil
	}
	delay := cfg.RetryDelay
	q.srv = asynq.NewServerFromRedisClient(cfg.Redis, asynq.Config{
		Concurrency: q.workers,
		Queues:      map[string]int{q.name: 1},
		RetryDelayFunc: func(n int, _ error, _ *asynq.Task) time.Duration {
			return delay << min(n, 5)
		},
		// Hand running tasks back at once on shutdown (asynq requeues
		// them); 0 would mean asynq's 8 s.
		ShutdownTimeout:          time.Millisecond,
		TaskCheckInterval:        cfg.PollEvery,
		DelayedTaskCheckInterval: time.Second,
		Logger:                   asynqLogger{cfg.Logger},
		LogLevel:                 asynqLevel(cfg.Logger),
	})
	if err := q.srv.Start(asynq.HandlerFunc(q.process)); err != nil {
		return nil, fmt.Errorf("tasks: starting the queue's workers: %w", err)
	}
	go q.reaper() // owner: the queue; Shutdown closes stopReap and waits for reapDone
	return q, nil
}

// Store returns the queue's store.
func (q *Queue) Store() Store { return q.store }

// pendingKey and retryKey are asynq's own keys of the queue's waiting
// tasks (asynq:{<queue>}:pending, a list; …:retry, a sorted set).
func (q *Queue) pendingKey() string { return "asynq:{" + q.name + "}:pending" }
func (q *Queue) retryKey() string   { return "asynq:{" + q.name + "}:retry" }

// waiting counts the tasks waiting for a worker: pending, and scheduled
// for a retry.
func (q *Queue) waiting(ctx context.Context) (int64, error) {
	var pending, retry *redis.IntCmd
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		pending = p.LLen(ctx, q.pendingKey())
		retry = p.ZCard(ctx, q.retryKey())
		return nil
	})
	if err != nil {
		return 0, err
	}
	return pending.Val() + retry.Val(), nil
}

// Submit validates spec, stores the task as queued, publishes its "queued"
// event (seq 1) and enqueues it. It fails with an *InputError for a bad
// spec, ErrQueueFull when MaxPending tasks wait already, ErrClosed after
// Shutdown and an error wrapping ErrUnavailable when Redis does not answer;
// a task stored but not enqueued is marked failed.
func (q *Queue) Submit(ctx context.Context, spec Spec) (Task, error) {
	if err := spec.Validate(); err != nil {
		return Task{}, err
	}
	if q.closed.Load() {
		return Task{}, ErrClosed
	}
	n, err := q.waiting(ctx)
	if err != nil {
		return Task{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if n >= int64(q.maxPending) {
		q.rejected.Add(1)
		return Task{}, ErrQueueFull
	}
	t := newTask(spec)
	if err := q.store.Put(ctx, t); err != nil {
		return Task{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	q.x.publish(ctx, t, taskstream.KindQueued)
	payload, _ := json.Marshal(queuedTask{ID: t.ID})
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(taskType, payload),
		asynq.TaskID(t.ID), asynq.Queue(q.name), asynq.MaxRetry(q.maxRetry), asynq.Timeout(attemptTimeout(spec)))
	if err != nil {
		fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		_, _ = q.x.finish(fin, t, StatusFailed, "not queued: "+err.Error(), time.Now())
		return Task{}, fmt.Errorf("%w: enqueueing task %s: %w", ErrUnavailable, t.ID, err)
	}
	q.submitted.Add(1)
	q.log.Debug("task queued", "id", t.ID, "files", t.Files, "step_ms", t.StepMS, "fail_at", t.FailAt)
	return t, nil
}

// queuedTask is the asynq payload: the task's state is in the Store.
type queuedTask struct {
	ID string `json:"id"`
}

// finishTimeout bounds the store and publish of a terminal state made
// after the attempt's context ended.
const finishTimeout = 5 * time.Second

// attemptTimeout bounds one attempt: twice the time its files take, plus a
// minute (asynq's default, 30 minutes, would cut long tasks).
func attemptTimeout(s Spec) time.Duration {
	return 2*time.Duration(s.Files)*time.Duration(s.StepMS)*time.Millisecond + time.Minute
}

// process is the asynq handler: one attempt at a task, continuing from the
// state in the store.
func (q *Queue) process(ctx context.Context, at *asynq.Task) error {
	if !q.enter() {
		return errStopped
	}
	defer q.leave()
	var p queuedTask
	if err := json.Unmarshal(at.Payload(), &p); err != nil || p.ID == "" {
		return fmt.Errorf("%w: bad payload %q", asynq.SkipRetry, at.Payload())
	}
	t, err := q.store.Get(ctx, p.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: task %s is not in the store", asynq.SkipRetry, p.ID)
	case err != nil:
		return err // retried
	case t.Status.Terminal():
		return nil // an earlier attempt ended it and died before telling asynq
	}
	t.Attempts++
	if t.Attempts > 1 {
		q.retried.Add(1)
		q.log.Debug("task retried", "id", t.ID, "attempt", t.Attempts, "done", t.Done)
	}
	fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	_, err = q.x.run(ctx, fin, t)
	if errors.Is(err, errStopped) {
		return fmt.Errorf("task %s stopped at attempt %d: %w", t.ID, t.Attempts, context.Cause(ctx))
	}
	return nil // ended here, or elsewhere (ErrFinished)
}

// enter counts a handler in, unless the queue is stopping.
func (q *Queue) enter() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopping {
		return false
	}
	q.live++
	return true
}

func (q *Queue) leave() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.live--; q.live == 0 && q.stopping {
		close(q.drained)
	}
}

// reaper marks failed, every ReapEvery, the tasks asynq archived (it gave
// up on them: retries used up after lost leases or errors).
func (q *Queue) reaper() {
	defer close(q.reapDone)
	tick := time.NewTicker(q.reapEvery)
	defer tick.Stop()
	for {
		select {
		case <-q.stopReap:
			return
		case <-tick.C:
			q.reap()
		}
	}
}

func (q *Queue) reap() {
	infos, err := q.insp.ListArchivedTasks(q.name, asynq.PageSize(100))
	if err != nil {
		if !errors.Is(err, asynq.ErrQueueNotFound) {
			q.log.Debug("archived tasks not listed", "err", err)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), finishTimeout)
	defer cancel()
	for _, info := range infos {
		var p queuedTask
		_ = json.Unmarshal(info.Payload, &p)
		if t, err := q.store.Get(ctx, p.ID); err == nil && !t.Status.Terminal() {
			msg := fmt.Sprintf("gave up after %d attempts: %s", max(t.Attempts, info.Retried+1), info.LastErr)
			if _, err := q.x.finish(ctx, t, StatusFailed, msg, time.Now()); err == nil {
				q.log.Debug("task given up", "id", t.ID, "error", msg)
			}
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			q.log.Debug("archived task not read", "id", p.ID, "err", err)
			continue // try again at the next sweep
		}
		if err := q.insp.DeleteTask(q.name, info.ID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			q.log.Debug("archived task not deleted", "id", info.ID, "err", err)
		}
	}
}

// Shutdown refuses new tasks, hands running ones back to the queue (see
// the type's doc) and stops the workers and the reaper. It returns once no
// handler of this process runs, or with ctx's error when ctx ends first.
// It is idempotent.
func (q *Queue) Shutdown(ctx context.Context) error {
	if q.closed.Swap(true) {
		return q.wait(ctx)
	}
	if q.srv != nil {
		q.srv.Shutdown() // bounded: running attempts are requeued after 1 ms
		close(q.stopReap)
	}
	q.mu.Lock()
	q.stopping = true
	if q.live == 0 {
		close(q.drained)
	}
	q.mu.Unlock()
	err := q.wait(ctx)
	_ = q.client.Close() // shares Redis: closes nothing but the client
	_ = q.insp.Close()
	return err
}

func (q *Queue) wait(ctx context.Context) error {
	for _, ch := range []chan struct{}{q.reapDone, q.drained} {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stats returns current counters; Queued asks Redis (within 250 ms; 0 when
// it does not answer) and counts the whole deployment's waiting tasks, the
// rest this process's.
func (q *Queue) Stats() RunnerStats {
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	waiting, _ := q.waiting(ctx)
	return RunnerStats{
		Workers: q.workers, QueueSize: q.maxPending, Queued: int(waiting),
		Running: q.x.running.Load(), Submitted: q.submitted.Load(), Rejected: q.rejected.Load(),
		Completed: q.x.completed.Load(), Failed: q.x.failed.Load(), Retried: q.retried.Load(),
	}
}

// asynqLogger hands asynq's records to slog: its Info is our Debug (asynq
// announces every start and stop), the rest keep their level.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) log(level slog.Level, args []any) {
	if a.l.Enabled(context.Background(), level) {
		a.l.Log(context.Background(), level, fmt.Sprint(args...), "component", "asynq")
	}
}

func (a asynqLogger) Debug(args ...any) { a.log(slog.LevelDebug-4, args) }
func (a asynqLogger) Info(args ...any)  { a.log(slog.LevelDebug, args) }
func (a asynqLogger) Warn(args ...any)  { a.log(slog.LevelWarn, args) }
func (a asynqLogger) Error(args ...any) { a.log(slog.LevelError, args) }
func (a asynqLogger) Fatal(args ...any) { a.log(slog.LevelError, args) }

// asynqLevel is the level asynq filters at before calling the logger.
func asynqLevel(l *slog.Logger) asynq.LogLevel {
	if l.Enabled(context.Background(), slog.LevelDebug) {
		return asynq.InfoLevel
	}
	return asynq.WarnLevel
}
