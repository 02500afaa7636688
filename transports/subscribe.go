package transports

import (
	"encoding/json"
	"time"
)

// SubscribeOptions control one subscription. The zero value subscribes to
// live events only, from now on.
type SubscribeOptions struct {
	// After, when set, resumes: every retained event with seq > *After is
	// queued first, exactly once and in order, before live events. If the
	// cursor is older than the retained history, or ahead of the topic, a
	// reset event comes first (see ResetData).
	After *uint64
	// Snapshot queues a snapshot event (the latest event's data, with the
	// latest seq, kind "snapshot") when there is no cursor or after a reset,
	// instead of replaying. Use it for topics whose every event carries the
	// full state, such as tasks.
	Snapshot bool
	// EndOnTerminal ends the subscription after a terminal event (one whose
	// kind HubConfig.Terminal names, such as a task's completed or failed):
	// the item carrying it has End set. If the topic already ended, the
	// subscription ends at once after the replay or snapshot.
	EndOnTerminal bool
	// Ack queues {"type":"subscribed","topic":...,"seq":<latest>} first.
	Ack bool
	// ID is echoed in the ack.
	ID string
}

// Subscribe follows topic. It returns the topic's latest seq at the moment the
// subscription began. It fails with ErrAlreadySubscribed if s already
// follows topic, ErrInvalidTopic for a bad name, or the cause if s is closed.
// With EndOnTerminal it fails with ErrEnded when the topic already ended and
// the cursor has seen its end: there is nothing to send (SSE answers 204).
func (s *Subscriber) Subscribe(topic string, opts SubscribeOptions) (uint64, error) {
	if err := ValidTopic(topic); err != nil {
		return 0, err
	}
	s.mu.Lock()
	if s.closed {
		err := s.cause
		s.mu.Unlock()
		return 0, err
	}
	if s.find(topic) >= 0 {
		s.mu.Unlock()
		return 0, ErrAlreadySubscribed
	}
	if len(s.topics) >= s.hub.maxTopics {
		s.mu.Unlock()
		return 0, ErrTooManyTopics
	}
	s.mu.Unlock()

	release, err := s.hub.follow(topic) // with a broker: followed and seeded (hub_broker.go)
	if err != nil {
		return 0, err
	}
	defer release()
	t, _ := s.hub.lockTopic(topic, false) // fails only when publishing
	defer t.mu.Unlock()
	latest := t.seq
	if opts.After != nil {
		s.hub.stats.resumes.Add(1)
	}

	var items []Item
	if opts.Ack {
		items = append(items, Item{Control: ControlFrame{Type: TypeSubscribed, Topic: topic, Seq: latest, ID: opts.ID}.JSON()})
	}
	s.mu.Lock()
	roomItems, roomBytes := s.roomLocked()
	s.mu.Unlock()
	replay, endNow := t.catchUp(opts, roomItems-len(items), roomBytes)
	if endNow && len(replay) == 0 {
		return latest, ErrEnded
	}
	items = append(items, replay...)
	if endNow {
		items[len(items)-1].End = true
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, s.cause
	}
	if s.find(topic) >= 0 { // a concurrent Subscribe won
		return 0, ErrAlreadySubscribed
	}
	if n, size := weigh(items); n > roomItems || size > roomBytes {
		// Not even a reset fits in what catch-ups not yet drained left:
		// the client asks for catch-ups faster than it reads them.
		s.slowLocked()
		return 0, ReasonSlowConsumer
	}
	// A catch-up counts against the catch-up allowance (roomLocked), not
	// against the live bounds; catchUp trimmed it to fit.
	for _, it := range items {
		if it.Event != nil && it.Event.Except != "" && it.Event.Except == s.clientID {
			continue // a replayed broadcast_except skips its sender, as the live fan-out does
		}
		s.appendLocked(it)
		s.replay++
		s.replayBytes += it.size()
	}
	if endNow {
		return latest, nil
	}
	s.topics = append(s.topics, t)
	t.index[s] = len(t.subs)
	t.subs = append(t.subs, &member{sub: s, endOnTerminal: opts.EndOnTerminal})
	t.idleAt = time.Time{}
	return latest, nil
}

// catchUp computes what a new subscription gets before live events, and
// whether the stream is already over. A replay that would pass the room
// the connection's bounds leave (maxItems items, maxBytes bytes) is
// trimmed to its newest events, behind a reset that names the range not
// sent. A reset's seq is the client's new cursor, and no event after it
// has a lower seq. Caller holds t.mu.
func (t *topic) catchUp(opts SubscribeOptions, maxItems, maxBytes int) (items []Item, endNow bool) {
	var lastKind string
	if t.last != nil {
		lastKind = t.last.Kind
	}
	endNow = opts.EndOnTerminal && lastKind != "" && t.terminal(lastKind)
	snapshot := func() {
		if t.last != nil {
			items = append(items, Item{Event: NewEvent(t.name, t.last.Seq, KindSnapshot, t.last.Data, t.last.Time)})
		}
	}
	if opts.After == nil {
		if opts.Snapshot {
			snapshot()
		}
		return items, endNow
	}
	cursor := *opts.After
	first := t.firstSeq()
	var reset *ResetData
	from := cursor // replay the events after from
	switch {
	case cursor > t.seq:
		// The topic is behind the client (the server restarted, or the
		// topic expired): what it holds now starts over below the cursor.
		reset = &ResetData{Reason: ResetCursorAhead, Cursor: cursor, LostFrom: satInc(cursor), LostTo: t.seq, FirstAvailable: first, Latest: t.seq}
		from = first - 1
	case cursor+1 < first:
		reset = &ResetData{Reason: ResetHistoryExpired, Cursor: cursor, LostFrom: cursor + 1, LostTo: first - 1, FirstAvailable: first, Latest: t.seq}
		from = first - 1
	}
	if reset != nil && opts.Snapshot {
		items = append(items, Item{Event: t.reset(*reset, first-1)})
		snapshot()
		return items, endNow
	}
	evs := t.after(from)
	if kept := fitNewest(evs, maxItems, maxBytes); len(kept) < len(evs) {
		kept = fitNewest(evs, maxItems-1, maxBytes-resetSize) // room for the reset
		if reset == nil || reset.Reason == ResetCursorAhead {
			reset = &ResetData{Reason: ResetBacklog, Cursor: cursor, LostFrom: from + 1, FirstAvailable: first, Latest: t.seq}
		}
		reset.LostTo = t.seq
		if len(kept) > 0 {
			reset.LostTo = kept[0].Seq - 1
		}
		evs = kept
	}
	if reset != nil {
		newCursor := t.seq
		if len(evs) > 0 {
			newCursor = evs[0].Seq - 1
		}
		items = append(items, Item{Event: t.reset(*reset, newCursor)})
	}
	return appendEvents(items, evs), endNow
}

// fitNewest returns the newest events of evs that fit in n items and
// bytes bytes.
func fitNewest(evs []*Event, n, bytes int) []*Event {
	i, size := len(evs), 0
	for i > 0 && len(evs)-i < n {
		size += len(evs[i-1].JSON())
		if size > bytes {
			break
		}
		i--
	}
	return evs[i:]
}

// weigh is the number and the bytes of items.
func weigh(items []Item) (n, bytes int) {
	for _, it := range items {
		bytes += it.size()
	}
	return len(items), bytes
}

// resetSize is what a reset event weighs against the catch-up allowance
// (an upper bound of its wire size).
const resetSize = 256

// satInc is c+1, saturating at the largest cursor.
func satInc(c uint64) uint64 {
	if c == ^uint64(0) {
		return c
	}
	return c + 1
}

func appendEvents(items []Item, evs []*Event) []Item {
	for _, e := range evs {
		items = append(items, Item{Event: e})
	}
	return items
}

// reset builds a reset event whose seq is the client's new cursor.
func (t *topic) reset(d ResetData, seq uint64) *Event {
	b, _ := json.Marshal(d)
	return NewEvent(t.name, seq, KindReset, b, time.Now())
}

// Unsubscribe stops following topic. Events already queued stay queued.
func (s *Subscriber) Unsubscribe(topic string) error {
	s.mu.Lock()
	i := s.find(topic)
	if i < 0 {
		s.mu.Unlock()
		return ErrNotSubscribed
	}
	t := s.topics[i]
	s.drop(i)
	s.mu.Unlock()
	t.remove(s)
	return nil
}

// untrack forgets t after the topic itself removed s (terminal event).
// Caller holds t.mu, not s.mu.
func (s *Subscriber) untrack(t *topic) {
	s.mu.Lock()
	if i := s.find(t.name); i >= 0 && s.topics[i] == t {
		s.drop(i)
	}
	s.mu.Unlock()
}

// Following reports whether s follows topic.
func (s *Subscriber) Following(topic string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.find(topic) >= 0
}
