package transports

import (
	"sync"
	"sync/atomic"
)

// An Item is one entry of a subscriber's queue: an event, or a control frame
// the connection itself wants written in order with its events.
type Item struct {
	Event   *Event // an event (shared; do not modify)
	Control []byte // a control frame, when Event is nil

	// End is set on the last item of a topic whose stream ended (a task's
	// terminal event, or a snapshot of an already finished task). The
	// subscription is already gone when the item is queued.
	End bool
}

// A Subscriber is one connection's view of the hub: the topics it follows
// and one bounded queue of items in delivery order. The hub only ever
// enqueues (never blocks, never touches the socket); the connection's single
// writer drains the queue. When the queue is full the subscriber is closed
// with [ReasonSlowConsumer]: the client reconnects and resumes from its
// cursor, so a slow client loses nothing while history covers it and never
// delays anyone else.
//
// Subscribe, Unsubscribe, Send and Close are safe for concurrent use;
// Drain must be called by one goroutine (the writer).
type Subscriber struct {
	hub       *Hub
	transport string
	clientID  string
	max       int // items in the queue, live and catch-ups each
	maxBytes  int // bytes in flight (the queue plus the kernel's unsent bytes), live and catch-ups each

	mu          sync.Mutex
	queue       *batch   // nil while empty: an idle connection holds no queue buffer
	qbytes      int      // bytes of the queued items
	replay      int      // items of catch-ups in the queue (their own allowance)
	replayBytes int      // bytes of catch-ups in the queue
	topics      []*topic // topics followed (few per connection); guarded by mu
	closed      bool
	cause       error

	ready chan struct{} // cap 1: something was queued
	done  chan struct{} // closed when the subscriber is closed

	presence bool // joined the client's presence (decremented on Close)
	queued   atomic.Uint64
}

// SubscriberOptions describe a connection.
type SubscriberOptions struct {
	// Transport labels the connection ("ws", "sse"); DropAll and Stats use it.
	Transport string
	// ClientID, when set, is the connection's client identity: it counts for
	// presence (HubConfig.Presence hears when an id comes online or goes
	// offline), and broadcast_except messages from this id skip the
	// connection.
	ClientID string
}

// Transport returns the transport label given at creation.
func (s *Subscriber) Transport() string { return s.transport }

// ClientID returns the client id given at creation ("" for anonymous).
func (s *Subscriber) ClientID() string { return s.clientID }

// Ready is signalled whenever items were queued. Call Drain after it fires.
func (s *Subscriber) Ready() <-chan struct{} { return s.ready }

// Wake signals Ready without queueing anything: a connection whose peer
// went away (or whose server is closing) wakes its loop with it, so that
// the loop waits on one channel only (see Serve).
func (s *Subscriber) Wake() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Done is closed when the subscriber is closed; Cause says why.
func (s *Subscriber) Done() <-chan struct{} { return s.done }

// Cause returns why the subscriber was closed (a *CloseReason or nil while open).
func (s *Subscriber) Cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}

// Drain appends every queued item to dst, in order, and empties the queue.
// Connections served by [Serve] do not call it (Serve takes the queue's
// buffer whole); it is for tests and custom writers.
func (s *Subscriber) Drain(dst []Item) []Item {
	b := s.drain()
	if b != nil {
		dst = append(dst, b.items...)
		s.release(b)
	}
	return dst
}

// drain takes the queue's buffer, leaving the queue empty (and bufferless):
// the writer owns the batch until it gives it back with release.
func (s *Subscriber) drain() *batch {
	s.mu.Lock()
	b := s.queue
	s.queue = nil
	s.qbytes, s.replay, s.replayBytes = 0, 0, 0
	s.mu.Unlock()
	return b
}

// release returns a drained batch's buffer to the hub's pool.
func (s *Subscriber) release(b *batch) { s.hub.putBatch(b) }

// Len is the number of queued items.
func (s *Subscriber) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queue.len()
}

// Send queues a control frame behind the events already queued. It returns
// false when the subscriber is closed or its queue is full (which closes it).
func (s *Subscriber) Send(control []byte) bool {
	s.mu.Lock()
	ok := s.pushLocked(Item{Control: control})
	s.mu.Unlock()
	return ok
}

// push queues one item; the caller holds no subscriber lock.
func (s *Subscriber) push(it Item) bool {
	s.mu.Lock()
	ok := s.pushLocked(it)
	s.mu.Unlock()
	return ok
}

func (s *Subscriber) pushLocked(it Item) bool {
	if s.closed {
		return false
	}
	if s.queue.len()-s.replay >= s.max || s.qbytes-s.replayBytes+it.size() > s.maxBytes {
		s.slowLocked()
		return false
	}
	s.appendLocked(it)
	return true
}

// slowLocked closes the subscriber as a slow consumer.
func (s *Subscriber) slowLocked() {
	s.closeLocked(ReasonSlowConsumer)
	s.hub.stats.slowClosed.Add(1)
}

// Slow closes the subscriber as a slow consumer: the connection loop calls
// it when the kernel holds more of the connection's bytes than the budget
// leaves (see HubConfig.QueueBytes).
func (s *Subscriber) Slow() {
	s.mu.Lock()
	s.slowLocked()
	s.mu.Unlock()
}

// inFlightBudget is what the kernel may hold of the connection's bytes:
// the budget less the live events queued.
func (s *Subscriber) inFlightBudget() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxBytes - (s.qbytes - s.replayBytes)
}

// roomLocked is what a catch-up may queue. Catch-ups have an allowance of
// their own, shared by the catch-ups not yet drained: as many items as the
// larger of QueueSize and History (a whole topic's history fits), and
// QueueBytes bytes. So a client resuming after a slow-consumer close (its
// backlog at least a full queue) gets its history in full, while
// catch-ups repeated faster than the writer drains them cannot grow the
// queue without bound.
func (s *Subscriber) roomLocked() (items, bytes int) {
	return max(max(s.max, s.hub.history)-s.replay, 0), max(s.maxBytes-s.replayBytes, 0)
}

// appendLocked queues it without checking the bound.
func (s *Subscriber) appendLocked(it Item) {
	if s.queue == nil {
		s.queue = s.hub.getBatch()
	}
	s.queue.items = append(s.queue.items, it)
	s.qbytes += it.size()
	s.queued.Add(1)
	s.Wake()
}

// closeLocked marks the subscriber closed; topics drop it lazily (fan-out
// skips closed subscribers) and for good in Close.
func (s *Subscriber) closeLocked(cause error) {
	if s.closed {
		return
	}
	s.closed = true
	s.cause = cause
	s.hub.putBatch(s.queue)
	s.queue = nil
	s.qbytes, s.replay, s.replayBytes = 0, 0, 0
	close(s.done)
	s.Wake()
}

// Kick closes the subscriber with a cause without unregistering it; the
// connection notices Done, writes the close, and then calls Close. It is what
// the hub uses for shutdown and admin drops.
func (s *Subscriber) Kick(cause error) {
	s.mu.Lock()
	s.closeLocked(cause)
	s.mu.Unlock()
}

// Close unsubscribes from every topic, leaves presence and releases the
// subscriber. It is idempotent; connections defer it. A cause given here is
// kept only if none was set before (nil means a normal close by the client).
func (s *Subscriber) Close(cause error) {
	s.mu.Lock()
	s.closeLocked(cause)
	topics := s.topics
	s.topics = nil
	s.mu.Unlock()
	for _, t := range topics {
		t.remove(s)
	}
	s.hub.forget(s)
}

// Topics returns the topics the subscriber follows.
func (s *Subscriber) Topics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.topics))
	for _, t := range s.topics {
		out = append(out, t.name)
	}
	return out
}

// find returns the index of topic in s.topics, or -1. Caller holds s.mu.
func (s *Subscriber) find(name string) int {
	for i, t := range s.topics {
		if t.name == name {
			return i
		}
	}
	return -1
}

// drop removes s.topics[i]. Caller holds s.mu.
func (s *Subscriber) drop(i int) {
	last := len(s.topics) - 1
	s.topics[i] = s.topics[last]
	s.topics[last] = nil
	s.topics = s.topics[:last]
}

// size is what an item weighs against QueueBytes: its bytes on the wire.
func (it Item) size() int {
	if it.Event != nil {
		return len(it.Event.JSON())
	}
	return len(it.Control)
}

// A batch is a queue buffer: filled by the hub under the subscriber's lock,
// then handed whole to the connection's writer, which returns it to the
// hub's pool after writing. Buffers circulate between connections instead
// of each connection keeping its own.
type batch struct{ items []Item }

func (b *batch) len() int {
	if b == nil {
		return 0
	}
	return len(b.items)
}

// maxPooledBatch is the largest buffer (in items) returned to the pool; a
// burst's bigger buffer is left to the garbage collector.
const maxPooledBatch = 1024

func (h *Hub) getBatch() *batch { return h.batches.Get().(*batch) }

func (h *Hub) putBatch(b *batch) {
	if b == nil || cap(b.items) > maxPooledBatch {
		return
	}
	clear(b.items) // drop event references
	b.items = b.items[:0]
	h.batches.Put(b)
}
