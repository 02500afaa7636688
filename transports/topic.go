package transports

import (
	"encoding/json"
	"sync"
	"time"
)

// topic holds one topic's sequence, bounded history and subscribers. Its
// mutex orders publishes and subscribes, which is what makes resume exact: a
// subscriber either sees an event in the replay or in the live fan-out, never
// both, never neither.
type topic struct {
	name     string
	terminal func(kind string) bool // HubConfig.Terminal (never nil)

	mu      sync.Mutex
	seq     uint64
	last    *Event   // latest event, kept even with no history (snapshots)
	ring    []*Event // history, oldest at ring[start], len(ring) <= cap
	start   int
	cap     int
	subs    []*member
	index   map[*Subscriber]int // position in subs
	idleAt  time.Time           // last activity while it had no subscriber (zero while it has some)
	removed bool                // swept from the hub; callers retry with a fresh topic
	rs      *topicSync          // with a broker: the topic's state against it (hub_broker.go); nil without
	bytes   int                 // wire bytes of the events in ring
	hist    *historyBudget      // the hub's byte budget of all history (history.go)
}

// member is one subscriber's subscription to the topic.
type member struct {
	sub           *Subscriber
	endOnTerminal bool
}

func newTopic(name string, history int, terminal func(string) bool, now time.Time) *topic {
	return &topic{name: name, terminal: terminal, cap: history, index: map[*Subscriber]int{}, idleAt: now}
}

// appendHistory adds e to the ring.
func (t *topic) appendHistory(e *Event) {
	t.last = e
	if t.cap <= 0 {
		return
	}
	size := len(e.JSON())
	t.grow(size)
	if len(t.ring) < t.cap {
		t.ring = append(t.ring, e)
	} else {
		t.grow(-len(t.ring[t.start].JSON()))
		t.ring[t.start] = e
		t.start = (t.start + 1) % t.cap
	}
	for len(t.ring) > 1 && t.hist != nil && t.bytes > t.hist.perTopic {
		t.dropOldest()
	}
}

// grow counts d bytes more (or fewer) of history, in the topic and the hub.
func (t *topic) grow(d int) {
	t.bytes += d
	if t.hist != nil {
		t.hist.add(int64(d))
	}
}

// dropOldest forgets the oldest retained event (the byte bound). A full
// ring is first laid out oldest first, so the ring stays a plain slice
// from then on.
func (t *topic) dropOldest() {
	if t.start != 0 {
		lin := make([]*Event, 0, t.cap)
		lin = append(lin, t.ring[t.start:]...)
		t.ring = append(lin, t.ring[:t.start]...)
		t.start = 0
	}
	t.grow(-len(t.ring[0].JSON()))
	copy(t.ring, t.ring[1:])
	t.ring[len(t.ring)-1] = nil
	t.ring = t.ring[:len(t.ring)-1]
}

// clearHistoryLocked forgets the retained events.
func (t *topic) clearHistoryLocked() {
	t.grow(-t.bytes)
	t.ring, t.start = nil, 0
}

// firstSeq is the oldest retained seq (latest+1 when nothing is retained).
func (t *topic) firstSeq() uint64 { return t.seq - uint64(len(t.ring)) + 1 }

// after returns the retained events with seq > cursor, oldest first.
// The caller checked cursor+1 >= firstSeq.
func (t *topic) after(cursor uint64) []*Event {
	if cursor >= t.seq {
		return nil
	}
	skip := int(cursor + 1 - t.firstSeq())
	n := len(t.ring) - skip
	out := make([]*Event, 0, n)
	for i := skip; i < len(t.ring); i++ {
		out = append(out, t.ring[(t.start+i)%len(t.ring)])
	}
	return out
}

// publish assigns the next seq, records and fans out. Caller holds t.mu.
func (t *topic) publishLocked(kind string, data json.RawMessage, except string, now time.Time) (*Event, int) {
	t.seq++
	if len(t.subs) == 0 {
		t.idleAt = now // a topic still being published to is not idle (a long task keeps its seq)
	}
	e := NewEvent(t.name, t.seq, kind, data, now)
	e.Except = except
	return e, t.fanOutLocked(e)
}

// deliverLocked records and fans out an event a broker numbered: the one
// after t.seq. Caller holds t.mu.
func (t *topic) deliverLocked(e *Event) int {
	t.seq = e.Seq
	return t.fanOutLocked(e)
}

// fanOutLocked records e, the topic's latest event, and queues it for every
// member. Caller holds t.mu.
func (t *topic) fanOutLocked(e *Event) int {
	except := e.Except
	t.appendHistory(e)
	terminal := t.terminal(e.Kind)
	n := 0
	for i := 0; i < len(t.subs); i++ {
		m := t.subs[i]
		if except != "" && m.sub.clientID == except {
			continue
		}
		end := terminal && m.endOnTerminal
		if m.sub.push(Item{Event: e, End: end}) {
			n++
		}
		if end {
			t.removeAt(i)
			m.sub.untrack(t)
			i--
		}
	}
	return n
}

func (t *topic) removeAt(i int) {
	last := len(t.subs) - 1
	delete(t.index, t.subs[i].sub)
	if i != last {
		t.subs[i] = t.subs[last]
		t.index[t.subs[i].sub] = i
	}
	t.subs[last] = nil
	t.subs = t.subs[:last]
	if len(t.subs) == 0 {
		t.idleAt = time.Now()
	}
}

// remove drops s from the topic, if present.
func (t *topic) remove(s *Subscriber) {
	t.mu.Lock()
	if i, ok := t.index[s]; ok {
		t.removeAt(i)
	}
	t.mu.Unlock()
}
