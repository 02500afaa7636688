package transports

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Publisher publishes events to topics. The task runner and the HTTP publish
// API depend on this interface only; they do not know which transports, or
// how many connections, are attached. *Hub implements it.
type Publisher interface {
	// Publish appends an event to topic and fans it out. data must be a JSON
	// object (nil means {}). It never blocks on a client.
	Publish(ctx context.Context, topic, kind string, data json.RawMessage) (*Event, error)
}

var _ Publisher = (*Hub)(nil)

// HubConfig configures a Hub. The zero value is usable.
type HubConfig struct {
	// History is how many events each topic keeps for resume. 0 means
	// DefaultHistory (1,000); a negative value keeps none.
	History int
	// TopicHistoryBytes bounds each topic's history in bytes too (its
	// events' wire size): the oldest events go first. 0 means
	// DefaultTopicHistoryBytes (16 MiB).
	TopicHistoryBytes int
	// HistoryBytes bounds the history of all topics together: past it, the
	// topics without subscribers that have been idle the longest are
	// forgotten first (as TopicTTL forgets them). 0 means
	// DefaultHistoryBytes (512 MiB).
	HistoryBytes int64
	// QueueSize bounds each subscriber's queue. A subscriber whose queue
	// fills is closed as a slow consumer (it resumes on reconnect).
	// 0 means DefaultQueueSize (4,096).
	QueueSize int
	// QueueBytes bounds each connection's bytes in flight: its queue
	// (catch-ups included) plus, where the transport can tell, what the
	// kernel has not sent yet. Past it the connection is closed as a slow
	// consumer; a catch-up that alone would pass it is trimmed to its
	// newest events behind a reset (backlog_too_large). 0 means
	// DefaultQueueBytes (1 MiB).
	QueueBytes int
	// TopicTTL is how long a topic with no subscribers keeps its history
	// and sequence before the hub forgets it (at the janitor's next sweep;
	// it sweeps once a minute). 0 means DefaultTopicTTL (10m).
	TopicTTL time.Duration
	// MaxTopics caps the topics one connection follows; a Subscribe past
	// it fails with ErrTooManyTopics. 0 means DefaultMaxTopics (128).
	MaxTopics int
	// Terminal reports whether an event of a kind ends the subscriptions
	// made with EndOnTerminal (see SubscribeOptions). The demo sets it to
	// taskstream.IsTerminal, so that a task's completed or failed event ends its
	// streams. nil means no kind does.
	Terminal func(kind string) bool
	// Presence, when set, is called when a client id gets its first open
	// connection (online) or loses its last one, after the hub's locks are
	// released; an error other than ErrClosed is logged at debug level.
	// chat.Presence publishes join and leave events. nil means no presence
	// events.
	Presence func(h *Hub, clientID string, online bool) error
	// Broker, when set, is what the hub shares with other nodes' hubs:
	// per-topic seq, history and epochs, and the delivery of every publish to
	// every node (see Broker and hub_broker.go). History should then be the
	// broker's history size. NewHub starts the hub's syncer; the hub does not
	// close the broker. nil means the hub is its own in-memory broker (one
	// node).
	Broker Broker
	// Written, when set, is called after every batch a connection wrote
	// (by Serve): the connection's transport, the items written, in order,
	// and when the write returned. It runs on the connection's writer and
	// holds no lock; it must be quick and must not keep items. The demo's
	// metrics count deliveries and their lag (publish ts to written) with
	// it. nil means no call.
	Written func(transport string, items []Item, at time.Time)
	// Logger receives debug records; nil is silent.
	Logger *slog.Logger
}

// Hub owns topics and subscribers: it assigns per-topic sequence numbers,
// keeps bounded history, and fans events out to every subscriber of a topic,
// whatever its transport, through each subscriber's bounded queue. It never
// writes to a connection. All methods are safe for concurrent use.
//
// # Lock order
//
// Three kinds of mutex, always taken in this order, never the reverse:
//
//	hub (Hub.mu) → topic (topic.mu) → subscriber (Subscriber.mu)
//
// Hub.mu guards the topic map, the subscriber set and presence; topic.mu a
// topic's seq, history and members; Subscriber.mu a connection's queue and
// the topics it follows. Publish looks its topic up under the hub's lock and
// releases it, then holds the topic's lock while it pushes to each member,
// taking each member's lock in turn (topic → subscriber). Subscribe checks
// the subscriber under its lock and releases it, then takes the topic's lock
// and, under it, the subscriber's again. Close, DropAll and forget hold the
// hub's lock alone and kick or publish only after releasing it;
// Subscriber.Close releases its own lock before it leaves its topics and the
// hub. Only the janitor (janitor.go) holds the hub's lock and a topic's
// together, in that order. No lock is held across a write to a connection.
type Hub struct {
	history    int
	queue      int
	queueBytes int
	topicTTL   time.Duration
	maxTopics  int
	hist       historyBudget // bytes of all topics' history (history.go)
	sweepEvery time.Duration // the janitor's period
	terminal   func(kind string) bool
	onPresence func(h *Hub, clientID string, online bool) error
	log        *slog.Logger
	remote     *remote // the broker link, nil without one (hub_broker.go)

	mu       sync.Mutex
	topics   map[string]*topic
	subs     map[*Subscriber]struct{}
	presence map[string]int // client id → open connections
	conns    map[string]int // transport → registered subscribers
	closed   bool
	janitor  *time.Timer // armed while there are topics and the hub is open

	batches sync.Pool // *batch: queue buffers shared by all subscribers (subscriber.go)

	stats hubStats
}

type hubStats struct {
	published  atomic.Uint64
	enqueued   atomic.Uint64
	slowClosed atomic.Uint64
	resumes    atomic.Uint64
	counts     hubCounts // connections served and how they ended (counters.go)
}

// NewHub builds a Hub. Without a broker it starts no goroutine: the janitor
// that forgets idle topics is a timer, armed while the hub has topics
// (janitor.go), and Close stops it. With HubConfig.Broker it starts the
// syncer (hub_broker.go), which Close stops.
func NewHub(cfg HubConfig) *Hub {
	h := &Hub{
		history:    cfg.History,
		queue:      cfg.QueueSize,
		queueBytes: cfg.QueueBytes,
		topicTTL:   cfg.TopicTTL,
		maxTopics:  cfg.MaxTopics,
		sweepEvery: sweepEvery,
		terminal:   cfg.Terminal,
		onPresence: cfg.Presence,
		log:        cfg.Logger,
		topics:     map[string]*topic{},
		subs:       map[*Subscriber]struct{}{},
		presence:   map[string]int{},
		conns:      map[string]int{},
	}
	if h.history == 0 {
		h.history = DefaultHistory
	}
	if h.history < 0 {
		h.history = 0
	}
	if h.queueBytes <= 0 {
		h.queueBytes = DefaultQueueBytes
	}
	if h.queue <= 0 {
		h.queue = DefaultQueueSize
	}
	if h.topicTTL <= 0 {
		h.topicTTL = DefaultTopicTTL
	}
	h.hist.init(cfg.TopicHistoryBytes, cfg.HistoryBytes, h.evictIdle)
	if h.maxTopics <= 0 {
		h.maxTopics = DefaultMaxTopics
	}
	if h.terminal == nil {
		h.terminal = func(string) bool { return false }
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.batches.New = func() any { return &batch{items: make([]Item, 0, 8)} }
	h.stats.counts.written = cfg.Written
	if cfg.Broker != nil {
		h.remote = newRemote(h, cfg.Broker)
	}
	return h
}

// topic returns the named topic, creating it. With publishing set it fails
// with ErrClosed once the hub is closed, so a publish takes the hub's lock
// once. It never sweeps: the janitor does, off the publish path.
func (h *Hub) topic(name string, publishing bool) (*topic, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if publishing && h.closed {
		return nil, ErrClosed
	}
	t := h.topics[name]
	if t == nil {
		t = newTopic(name, h.history, h.terminal, time.Now())
		t.hist = &h.hist
		if h.remote != nil {
			t.rs = &topicSync{}
		}
		h.topics[name] = t
		h.armJanitorLocked()
	}
	return t, nil
}

// lockTopic returns the named topic, locked, retrying if the janitor removed
// it between lookup and lock.
func (h *Hub) lockTopic(name string, publishing bool) (*topic, error) {
	for {
		t, err := h.topic(name, publishing)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		if !t.removed {
			return t, nil
		}
		t.mu.Unlock()
	}
}

// Publish implements Publisher.
func (h *Hub) Publish(ctx context.Context, topic, kind string, data json.RawMessage) (*Event, error) {
	e, _, err := h.publish(ctx, topic, kind, data, "")
	return e, err
}

// PublishExcept publishes like Publish but skips the connections of client id
// except (broadcast_except). It returns how many subscribers it was queued for.
//
// data is validated once (ValidData) and copied once, into the event's wire
// form (NewEvent); the event's Data points into that copy, so the caller may
// reuse data as soon as PublishExcept returns.
//
// With a broker, the broker numbers the event and delivers it to this
// node's subscribers too; the count is of this node's subscribers of the
// topic, and a broker that does not answer is an error wrapping
// ErrUnavailable.
func (h *Hub) PublishExcept(topic, kind string, data json.RawMessage, except string) (*Event, int, error) {
	return h.publish(context.Background(), topic, kind, data, except)
}

func (h *Hub) publish(ctx context.Context, topic, kind string, data json.RawMessage, except string) (*Event, int, error) {
	if err := ValidTopic(topic); err != nil {
		return nil, 0, err
	}
	if err := ValidKind(kind); err != nil {
		return nil, 0, err
	}
	if len(data) > 0 {
		if err := ValidData(data); err != nil {
			return nil, 0, err
		}
	}
	if h.remote != nil {
		return h.remote.publish(ctx, topic, kind, data, except)
	}
	t, err := h.lockTopic(topic, true)
	if err != nil {
		return nil, 0, err
	}
	e, n := t.publishLocked(kind, data, except, time.Now())
	t.mu.Unlock()
	h.stats.published.Add(1)
	h.stats.enqueued.Add(uint64(n))
	return e, n, nil
}

// Latest returns the latest event of a topic, or nil if it has none (with
// a broker: or if the broker does not answer).
func (h *Hub) Latest(topic string) *Event {
	if h.remote != nil {
		return h.remote.latest(topic)
	}
	h.mu.Lock()
	t := h.topics[topic]
	h.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// NewSubscriber registers a connection. If it has a client id and is that
// id's first open connection, HubConfig.Presence hears that the id came
// online. It fails with ErrClosed after Close.
func (h *Hub) NewSubscriber(opts SubscriberOptions) (*Subscriber, error) {
	s := &Subscriber{
		hub:       h,
		transport: opts.Transport,
		clientID:  opts.ClientID,
		max:       h.queue,
		maxBytes:  h.queueBytes,
		ready:     make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.subs[s] = struct{}{}
	h.conns[s.transport]++
	joined := false
	if s.clientID != "" {
		s.presence = true
		h.presence[s.clientID]++
		joined = h.presence[s.clientID] == 1
	}
	h.mu.Unlock()
	if joined {
		h.announce(s.clientID, true)
	}
	return s, nil
}

// announce tells HubConfig.Presence that a client id came online or went
// offline. Callers hold no lock.
func (h *Hub) announce(id string, online bool) {
	if h.onPresence == nil {
		return
	}
	if err := h.onPresence(h, id, online); err != nil && err != ErrClosed {
		h.log.Debug("presence not announced", "client_id", id, "online", online, "err", err)
	}
}

// forget unregisters s (called once by Subscriber.Close).
func (h *Hub) forget(s *Subscriber) {
	h.mu.Lock()
	if _, ok := h.subs[s]; !ok {
		h.mu.Unlock()
		return
	}
	delete(h.subs, s)
	if h.conns[s.transport]--; h.conns[s.transport] <= 0 {
		delete(h.conns, s.transport)
	}
	left := false
	if s.presence {
		h.presence[s.clientID]--
		if h.presence[s.clientID] <= 0 {
			delete(h.presence, s.clientID)
			left = true
		}
	}
	closed := h.closed
	h.mu.Unlock()
	if left && !closed {
		h.announce(s.clientID, false)
	}
}

// Online reports how many open connections a client id has.
func (h *Hub) Online(clientID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.presence[clientID]
}

// DropAll kicks every connection of a transport ("" for all) with
// ReasonDropped, as the admin endpoint does. It returns how many.
func (h *Hub) DropAll(transport string) int {
	return h.kickAll(transport, ReasonDropped)
}

func (h *Hub) kickAll(transport string, why error) int {
	victims := h.subscribersOf(transport)
	for _, s := range victims {
		s.Kick(why)
	}
	return len(victims)
}

// subscribersOf returns the registered subscribers of a transport ("" for
// all).
func (h *Hub) subscribersOf(transport string) []*Subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Subscriber, 0, len(h.subs))
	for s := range h.subs {
		if transport == "" || s.transport == transport {
			out = append(out, s)
		}
	}
	return out
}

// Close refuses new subscribers and publishes, and kicks every connection
// with ReasonShutdown. Connections finish their writes and close themselves.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	h.stopJanitorLocked()
	h.mu.Unlock()
	h.kickAll("", ReasonShutdown)
	if h.remote != nil {
		h.remote.close()
	}
}

// Stats is a point-in-time snapshot of hub counters.
type Stats struct {
	Topics      int            `json:"topics"`
	Connections map[string]int `json:"connections"` // by transport
	Published   uint64         `json:"published"`
	Enqueued    uint64         `json:"enqueued"`
	SlowClosed  uint64         `json:"slow_closed"`
	// Connects counts connections served, by transport, since NewHub;
	// Disconnects how they ended, by transport and then close reason code
	// (ReasonGone: the peer left or a write failed).
	Connects    map[string]uint64            `json:"connects"`
	Disconnects map[string]map[string]uint64 `json:"disconnects"`
	// Resumes counts subscriptions made with a cursor.
	Resumes uint64 `json:"resumes"`
}

// Stats returns current counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	st := Stats{Topics: len(h.topics), Connections: make(map[string]int, len(h.conns))}
	for tr, n := range h.conns {
		st.Connections[tr] = n
	}
	h.mu.Unlock()
	st.Published = h.stats.published.Load()
	st.Enqueued = h.stats.enqueued.Load()
	st.SlowClosed = h.stats.slowClosed.Load()
	st.Resumes = h.stats.resumes.Load()
	h.stats.counts.fill(&st)
	return st
}
