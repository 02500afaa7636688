package transports

import (
	"slices"
	"sync/atomic"
	"time"
)

// historyBudget counts the bytes of every topic's history against the
// hub's HistoryBytes, and bounds each topic's to TopicHistoryBytes. Past
// the global budget it has the hub forget its longest-idle topics without
// subscribers (evictIdle), on a goroutine of its own that runs while the
// hub is over budget.
type historyBudget struct {
	perTopic int
	total    int64
	bytes    atomic.Int64
	evicting atomic.Bool
	evict    func()
}

func (b *historyBudget) init(perTopic int, total int64, evict func()) {
	b.perTopic, b.total, b.evict = perTopic, total, evict
	if b.perTopic <= 0 {
		b.perTopic = DefaultTopicHistoryBytes
	}
	if b.total <= 0 {
		b.total = DefaultHistoryBytes
	}
}

// add counts d more bytes; past the budget it starts an eviction unless
// one runs.
func (b *historyBudget) add(d int64) {
	if b.bytes.Add(d) > b.total && d > 0 && b.evicting.CompareAndSwap(false, true) {
		go func() { // owner: the budget; ends once the hub is under budget or nothing idle is left
			defer b.evicting.Store(false)
			b.evict()
		}()
	}
}

// over reports whether the history is past the budget.
func (b *historyBudget) over() bool { return b.bytes.Load() > b.total }

// HistoryBytes is the wire size of all topics' retained history.
func (h *Hub) HistoryBytes() int64 { return h.hist.bytes.Load() }

// evictIdle forgets topics without subscribers, longest idle first, until
// the history is back under its budget. Topics with subscribers keep
// theirs (each bounded by TopicHistoryBytes). Lock order: hub, then one
// topic at a time.
func (h *Hub) evictIdle() {
	h.mu.Lock()
	idle := make([]*topic, 0, len(h.topics))
	for _, t := range h.topics {
		idle = append(idle, t)
	}
	h.mu.Unlock()
	since := make(map[*topic]time.Time, len(idle))
	for _, t := range idle {
		t.mu.Lock()
		if len(t.subs) == 0 {
			since[t] = t.idleAt
		}
		t.mu.Unlock()
	}
	idle = slices.DeleteFunc(idle, func(t *topic) bool { _, ok := since[t]; return !ok })
	slices.SortFunc(idle, func(a, b *topic) int { return since[a].Compare(since[b]) })
	for _, t := range idle {
		if !h.hist.over() {
			return
		}
		h.forgetIf(t, func(t *topic) bool { return len(t.subs) == 0 })
	}
}
