package tasks

import (
	"container/list"
	"context"
	"errors"
	"sync"
)

// Errors of a Store.
var (
	// ErrNotFound is returned by Store.Get for an unknown (or evicted) task.
	ErrNotFound = errors.New("tasks: task not found")
	// ErrFinished is returned by Store.Put when the stored task has
	// already finished: a task ends once, so a worker that lost its task
	// (another one finished it, or it was marked failed) learns it here.
	ErrFinished = errors.New("tasks: task already finished")
)

// Store keeps task state. Implementations must be safe for concurrent use
// and hand out copies: a Task returned by Get or List is the caller's.
type Store interface {
	// Put creates or replaces a task (keyed by ID). It fails with
	// ErrFinished, storing nothing, when the stored task is completed or
	// failed.
	Put(ctx context.Context, t Task) error
	// Get returns a task, or ErrNotFound.
	Get(ctx context.Context, id string) (Task, error)
	// List returns tasks, newest first, filtered and bounded by q.
	List(ctx context.Context, q Query) ([]Task, error)
}

// Query filters List.
type Query struct {
	// Status, when set, keeps only tasks in that status.
	Status Status
	// Limit bounds the result; 0 means DefaultListLimit, values above
	// MaxListLimit are clamped to it.
	Limit int
}

// A Counter counts tasks by status (the metrics' task gauges). Both stores
// implement it.
type Counter interface {
	Count(ctx context.Context) (map[Status]int, error)
}

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// DefaultMaxFinished is MemStore's default cap on finished tasks.
const DefaultMaxFinished = 10000

// MemStore is the in-memory Store. It is bounded: once more than MaxFinished
// tasks have finished, the oldest finished ones are evicted (queued and
// running tasks are bounded by the Runner's queue and workers). Safe for
// concurrent use.
type MemStore struct {
	max int

	mu       sync.Mutex
	byID     map[string]*memEntry
	order    *list.List // of *memEntry, creation order (oldest first)
	finished *list.List // of *memEntry, finish order (oldest first)
}

type memEntry struct {
	task     Task
	order    *list.Element
	finished *list.Element // nil while not terminal
}

var (
	_ Store   = (*MemStore)(nil)
	_ Counter = (*MemStore)(nil)
)

// NewMemStore returns an empty store keeping at most maxFinished finished
// tasks (0 means DefaultMaxFinished).
func NewMemStore(maxFinished int) *MemStore {
	if maxFinished <= 0 {
		maxFinished = DefaultMaxFinished
	}
	return &MemStore{max: maxFinished, byID: map[string]*memEntry{}, order: list.New(), finished: list.New()}
}

// Put implements Store.
func (m *MemStore) Put(_ context.Context, t Task) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.byID[t.ID]
	if e != nil && e.task.Status.Terminal() {
		return ErrFinished
	}
	if e == nil {
		e = &memEntry{}
		e.order = m.order.PushBack(e)
		m.byID[t.ID] = e
	}
	e.task = t
	if t.Status.Terminal() && e.finished == nil {
		e.finished = m.finished.PushBack(e)
		for m.finished.Len() > m.max {
			old := m.finished.Remove(m.finished.Front()).(*memEntry)
			m.order.Remove(old.order)
			delete(m.byID, old.task.ID)
		}
	}
	return nil
}

// Get implements Store.
func (m *MemStore) Get(_ context.Context, id string) (Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.byID[id]; e != nil {
		return e.task, nil
	}
	return Task{}, ErrNotFound
}

// List implements Store.
func (m *MemStore) List(_ context.Context, q Query) ([]Task, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Task, 0, min(limit, m.order.Len()))
	for el := m.order.Back(); el != nil && len(out) < limit; el = el.Prev() {
		t := el.Value.(*memEntry).task
		if q.Status == "" || t.Status == q.Status {
			out = append(out, t)
		}
	}
	return out, nil
}

// Count implements Counter.
func (m *MemStore) Count(context.Context) (map[Status]int, error) {
	out := map[Status]int{StatusQueued: 0, StatusRunning: 0, StatusCompleted: 0, StatusFailed: 0}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.byID {
		out[e.task.Status]++
	}
	return out, nil
}

// Len returns how many tasks the store holds.
func (m *MemStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.byID)
}
