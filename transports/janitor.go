package transports

import "time"

// sweepEvery is how often the janitor looks for idle topics: a topic is
// forgotten at the first sweep after it has been idle for TopicTTL.
const sweepEvery = time.Minute

// The janitor forgets topics that have had no subscriber for TopicTTL, so
// the topic map never only grows. It is a timer, not a goroutine of its
// own: the first topic arms it, each sweep re-arms it while topics remain,
// and Close stops it. A hub without topics, or closed, holds no timer and
// no goroutine, whether or not anyone calls Close.

// armJanitorLocked arms the janitor if it is not armed. Caller holds h.mu.
func (h *Hub) armJanitorLocked() {
	if h.janitor != nil || h.closed {
		return
	}
	// owner: the hub. The timer's function runs on a goroutine of its own
	// for one sweep; sweep re-arms it or, with no topics left, disarms it;
	// Close stops it.
	h.janitor = time.AfterFunc(h.sweepEvery, h.sweep)
}

// stopJanitorLocked disarms the janitor. Caller holds h.mu.
func (h *Hub) stopJanitorLocked() {
	if h.janitor != nil {
		h.janitor.Stop()
		h.janitor = nil
	}
}

// forgetIf forgets t when it is still the hub's topic of its name and
// cond (called with t locked) holds: callers that looked it up before
// retry (lockTopic), its history leaves the byte budget, and a broker
// stops following it. It takes the hub's lock, then t's (the lock order),
// and calls the broker outside both.
func (h *Hub) forgetIf(t *topic, cond func(*topic) bool) {
	h.mu.Lock()
	if h.topics[t.name] != t {
		h.mu.Unlock()
		return
	}
	t.mu.Lock()
	if cond(t) {
		t.removed = true
		delete(h.topics, t.name)
		t.clearHistoryLocked()
	}
	unfollow := t.removed && t.rs != nil
	t.mu.Unlock()
	h.mu.Unlock()
	if unfollow {
		h.remote.unfollow(t)
	}
}

// sweep forgets the topics idle for longer than TopicTTL. It holds the
// hub's lock and one topic's at a time (hub → topic, the lock order), and
// releases the hub's lock between topics, so that a publish never waits for
// more than one topic's check.
func (h *Hub) sweep() {
	now := time.Now()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	all := make([]*topic, 0, len(h.topics))
	for _, t := range h.topics {
		all = append(all, t)
	}
	h.mu.Unlock()
	for _, t := range all {
		h.forgetIf(t, func(t *topic) bool { return t.idleLocked(now, h.topicTTL, h.sweepEvery) })
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed: // Close stopped it meanwhile
	case len(h.topics) == 0:
		h.janitor = nil // the next new topic arms it again
	default:
		h.janitor.Reset(h.sweepEvery)
	}
}

// idleLocked reports whether the janitor forgets t: it has had no
// subscriber for ttl. A topic followed through a broker is forgotten (and
// unsubscribed) sooner, after linger, since the broker keeps its history;
// never while a Subscribe is in progress. Caller holds t.mu.
func (t *topic) idleLocked(now time.Time, ttl, linger time.Duration) bool {
	if len(t.subs) > 0 {
		return false
	}
	if t.rs != nil {
		return t.rs.pins == 0 && now.Sub(t.idleAt) > linger
	}
	return now.Sub(t.idleAt) > ttl
}
