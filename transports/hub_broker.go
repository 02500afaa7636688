package transports

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"time"
)

// This file is the hub's side of a Broker (HubConfig.Broker). With one, a
// topic that has local subscribers is followed: the node subscribes to it in
// the broker, seeds the topic's ring from the broker's history, and from
// then on the broker's deliveries are what the topic fans out (the node does
// not number anything itself). The ring then mirrors the broker's history,
// so a Subscribe is served exactly as on one node, under the topic's lock:
// a resuming subscriber sees each event in the replay or live, never both,
// never neither.
//
// Deliveries are applied in seq order only. One that skips ahead (a lost
// pub/sub message, a reconnect) is held in the topic's pending list while
// the syncer fills the gap from History; one the topic already has is
// dropped; one of another epoch makes the syncer read the topic again. When
// the broker reconnects (Resubscribed) the syncer catches every followed
// topic up the same way. If the broker lost the topic (a new epoch), the
// subscribers get a reset (ResetEpochChanged) and then the new epoch's
// events; if the gap is no longer in the broker's history, a reset
// (ResetHistoryExpired). A topic without local subscribers for a sweep is
// forgotten and the node unsubscribes.
//
// Lock order: a topic's sync mutex (topicSync.act, held across broker
// calls) → hub → topic → subscriber. No hub lock is held across a broker
// call.

// brokerTimeout bounds each broker call the hub makes.
const brokerTimeout = 3 * time.Second

// maxPending bounds the deliveries a topic holds while a gap is filled;
// past it they are dropped, and the fill reads them from History.
const maxPending = 4096

// remote is the hub's broker link and its syncer.
type remote struct {
	h *Hub
	b Broker

	mu    sync.Mutex
	queue map[*topic]struct{} // topics to catch up
	wake  chan struct{}       // cap 1
	stop  chan struct{}
	done  chan struct{}
}

// topicSync is a followed topic's state against the broker.
type topicSync struct {
	act sync.Mutex // serializes subscribing and syncing (held across broker calls)

	// Guarded by act:
	subscribed bool // Subscribe succeeded (Unsubscribe is owed)

	// Guarded by the topic's mutex:
	seeded  bool   // ring, seq and last mirror the broker up to seq
	epoch   string // the epoch they belong to
	pins    int    // Subscribes in progress: the janitor keeps the topic
	pending []pendingEvent
}

type pendingEvent struct {
	epoch string
	e     *Event
}

func newRemote(h *Hub, b Broker) *remote {
	r := &remote{h: h, b: b, queue: map[*topic]struct{}{}, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	b.Run(brokerHandler{r})
	go r.run() // owner: the hub; Close stops it and waits (r.done)
	return r
}

// close stops the syncer.
func (r *remote) close() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}

// brokerHandler is the hub's BrokerHandler.
type brokerHandler struct{ r *remote }

func (bh brokerHandler) Deliver(epoch string, e *Event) { bh.r.deliver(epoch, e) }
func (bh brokerHandler) Resubscribed(topic string) {
	if t := bh.r.h.lookup(topic); t != nil {
		bh.r.request(t)
	}
}

// lookup returns the hub's topic, or nil.
func (h *Hub) lookup(name string) *topic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.topics[name]
}

// noRelease is follow's release for a hub without broker.
var noRelease = func() {}

// follow makes sure the topic is followed and seeded before a Subscribe
// reads it. The topic stays followed at least until release is called
// (after the subscriber joined it).
func (h *Hub) follow(name string) (release func(), err error) {
	if h.remote == nil {
		return noRelease, nil
	}
	return h.remote.follow(name)
}

func (r *remote) follow(name string) (func(), error) {
	t, err := r.h.lockTopic(name, false)
	if err != nil {
		return nil, err
	}
	rs := t.rs
	rs.pins++
	seeded := rs.seeded
	t.mu.Unlock()
	release := func() {
		t.mu.Lock()
		rs.pins--
		t.mu.Unlock()
	}
	if seeded {
		return release, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	rs.act.Lock()
	defer rs.act.Unlock()
	t.mu.Lock()
	seeded = rs.seeded // by a follow that held act before
	t.mu.Unlock()
	if seeded {
		return release, nil
	}
	if !rs.subscribed {
		if err := r.b.Subscribe(ctx, name); err != nil {
			release()
			return nil, err
		}
		rs.subscribed = true
	}
	if err := r.syncLocked(ctx, t); err != nil {
		release()
		return nil, err
	}
	return release, nil
}

// request queues t for the syncer.
func (r *remote) request(t *topic) {
	r.mu.Lock()
	r.queue[t] = struct{}{}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run is the syncer: it catches up the topics queued by deliveries that
// skipped ahead and by reconnects, retrying with backoff while the broker
// does not answer.
func (r *remote) run() {
	defer close(r.done)
	failures := 0
	var retry <-chan time.Time
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-retry:
		}
		retry = nil
		r.mu.Lock()
		batch := make([]*topic, 0, len(r.queue))
		for t := range r.queue {
			batch = append(batch, t)
		}
		clear(r.queue)
		r.mu.Unlock()
		failed := false
		for _, t := range batch {
			if err := r.catchUp(t); err != nil {
				failed = true
				r.mu.Lock()
				r.queue[t] = struct{}{}
				r.mu.Unlock()
			}
		}
		if failed {
			failures++
			retry = time.After(Backoff{Initial: 50 * time.Millisecond, Max: 2 * time.Second}.Delay(failures))
		} else {
			failures = 0
		}
	}
}

// catchUp syncs a followed topic again.
func (r *remote) catchUp(t *topic) error {
	rs := t.rs
	rs.act.Lock()
	defer rs.act.Unlock()
	t.mu.Lock()
	skip := t.removed || !rs.seeded // an unseeded topic is seeded by follow
	t.mu.Unlock()
	if skip {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	return r.syncLocked(ctx, t)
}

// syncLocked reads the topic's history after what the topic has and
// applies it, until nothing pending is out of order. Caller holds rs.act.
func (r *remote) syncLocked(ctx context.Context, t *topic) error {
	rs := t.rs
	for {
		t.mu.Lock()
		after := t.seq
		if !rs.seeded {
			after = 0
		}
		t.mu.Unlock()
		hist, err := r.b.History(ctx, t.name, after)
		if err != nil {
			return err
		}
		t.mu.Lock()
		if rs.seeded && after > 0 && (hist.Epoch != rs.epoch || hist.Latest < after) {
			// The broker lost the topic: the new epoch's events are all
			// after the reset, including those numbered below the cursor.
			t.mu.Unlock()
			if hist, err = r.b.History(ctx, t.name, 0); err != nil {
				return err
			}
			t.mu.Lock()
		}
		again := t.applyLocked(hist)
		t.mu.Unlock()
		if !again {
			return nil
		}
	}
}

// deliver applies one delivery from the broker.
func (r *remote) deliver(epoch string, e *Event) {
	t := r.h.lookup(e.Topic)
	if t == nil {
		return // not followed (any more)
	}
	t.mu.Lock()
	rs := t.rs
	gap, n := false, 0
	switch {
	case t.removed:
	case rs.seeded && epoch == rs.epoch && e.Seq <= t.seq:
		// A fill brought it already.
	case rs.seeded && epoch == rs.epoch && e.Seq == t.seq+1 && len(rs.pending) == 0:
		n = t.deliverLocked(e)
	default:
		if len(rs.pending) < maxPending {
			rs.pending = append(rs.pending, pendingEvent{epoch, e})
		}
		gap = rs.seeded // an unseeded topic drains pending when follow seeds it
	}
	t.mu.Unlock()
	r.h.stats.enqueued.Add(uint64(n))
	if gap {
		r.request(t)
	}
}

// applyLocked applies a history read: it seeds the topic, or fills its gap,
// or starts it over in a new epoch; then it delivers what is pending in
// order. It reports whether pending still skips ahead (read again).
// Caller holds t.mu.
func (t *topic) applyLocked(hist History) (again bool) {
	rs := t.rs
	switch {
	case !rs.seeded:
		t.clearHistoryLocked()
		t.last = hist.Last
		t.seq = hist.Latest
		if n := len(hist.Events); n > 0 && hist.Events[n-1].Seq == hist.Latest {
			for _, e := range hist.Events[max(0, n-t.cap):] {
				t.appendHistory(e)
			}
		}
		t.last = hist.Last
		rs.epoch, rs.seeded = hist.Epoch, true
	case hist.Epoch != rs.epoch || hist.Latest < t.seq: // the broker lost the topic (or its latest writes)
		start := hist.Start
		t.resetLocked(ResetData{Reason: ResetEpochChanged, Cursor: t.seq, LostFrom: 1, LostTo: start - 1,
			FirstAvailable: start, Latest: hist.Latest}, start-1)
		rs.epoch = hist.Epoch
		t.deliverAllLocked(hist.Events)
		if len(hist.Events) == 0 {
			t.last = hist.Last
		}
	default:
		if hist.Latest > t.seq && hist.Start > t.seq+1 {
			t.resetLocked(ResetData{Reason: ResetHistoryExpired, Cursor: t.seq, LostFrom: t.seq + 1, LostTo: hist.Start - 1,
				FirstAvailable: hist.Start, Latest: hist.Latest}, hist.Start-1)
		}
		t.deliverAllLocked(hist.Events)
	}
	// Deliver what is pending, in seq order.
	slices.SortStableFunc(rs.pending, func(a, b pendingEvent) int {
		switch {
		case a.e.Seq < b.e.Seq:
			return -1
		case a.e.Seq > b.e.Seq:
			return 1
		}
		return 0
	})
	keep := rs.pending[:0]
	for _, p := range rs.pending {
		switch {
		case p.epoch != rs.epoch || p.e.Seq <= t.seq:
			// From an epoch the broker no longer has, or already delivered.
		case p.e.Seq == t.seq+1 && len(keep) == 0:
			t.deliverLocked(p.e)
		default:
			keep = append(keep, p)
		}
	}
	clear(rs.pending[len(keep):])
	rs.pending = keep
	return len(keep) > 0
}

// deliverAllLocked delivers the events after t.seq, in order.
func (t *topic) deliverAllLocked(evs []*Event) {
	for _, e := range evs {
		if e.Seq == t.seq+1 {
			t.deliverLocked(e)
		}
	}
}

// resetLocked tells every subscriber that the topic starts over at seq
// (a reset event whose seq is the new cursor) and empties the ring: what
// follows is delivered from seq+1. Caller holds t.mu.
func (t *topic) resetLocked(d ResetData, seq uint64) {
	e := t.reset(d, seq)
	for _, m := range t.subs {
		m.sub.push(Item{Event: e})
	}
	t.clearHistoryLocked()
	t.last, t.seq = nil, seq
}

// publish publishes through the broker. The event reaches this node's
// subscribers when the broker delivers it; n is how many of them follow the
// topic now.
func (r *remote) publish(ctx context.Context, topic, kind string, data json.RawMessage, except string) (*Event, int, error) {
	r.h.mu.Lock()
	closed := r.h.closed
	r.h.mu.Unlock()
	if closed {
		return nil, 0, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, brokerTimeout)
	defer cancel()
	now := time.UnixMicro(time.Now().UnixMicro())
	e, err := r.b.Publish(ctx, Message{Topic: topic, Kind: kind, Data: data, Except: except, Time: now})
	if err != nil {
		return nil, 0, err
	}
	r.h.stats.published.Add(1)
	n := 0
	if t := r.h.lookup(topic); t != nil {
		t.mu.Lock()
		n = len(t.subs)
		t.mu.Unlock()
	}
	return e, n, nil
}

// latest returns the topic's latest event: the followed topic's, or the
// broker's (nil when the broker does not answer).
func (r *remote) latest(name string) *Event {
	if t := r.h.lookup(name); t != nil {
		t.mu.Lock()
		seeded, last := t.rs.seeded, t.last
		t.mu.Unlock()
		if seeded {
			return last
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	hist, err := r.b.History(ctx, name, math.MaxUint64)
	if err != nil {
		return nil
	}
	return hist.Last
}

// unfollow unsubscribes a topic the janitor forgot. The caller holds no lock.
func (r *remote) unfollow(t *topic) {
	rs := t.rs
	rs.act.Lock()
	defer rs.act.Unlock()
	if rs.subscribed {
		rs.subscribed = false
		if err := r.b.Unsubscribe(t.name); err != nil {
			r.h.log.Debug("broker unsubscribe failed", "topic", t.name, "err", err)
		}
	}
}
