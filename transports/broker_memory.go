package transports

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
)

// MemoryBroker is a Broker shared by the hubs of one process: each hub is a
// node (Node returns its Broker), and publishes on any node reach the
// subscribers of every node, numbered by one counter per topic. It is what
// the Redis broker is, without the network, which makes it the broker that
// multi-node tests run against; a single hub needs none (HubConfig.Broker
// nil is the built-in in-memory broker).
//
// It delivers synchronously, in Publish, holding the topic's lock. It keeps
// every topic it has seen until Close, with at most History events each.
// Safe for concurrent use.
type MemoryBroker struct {
	history int

	mu     sync.Mutex
	topics map[string]*memTopic
}

type memTopic struct {
	mu    sync.Mutex
	epoch string
	seq   uint64
	ring  []*Event // the last history events, oldest first
	last  *Event
	nodes map[*memNode]int // node → subscriptions
}

// NewMemoryBroker returns a broker keeping history events per topic
// (0 means DefaultHistory; negative keeps none).
func NewMemoryBroker(history int) *MemoryBroker {
	if history == 0 {
		history = DefaultHistory
	}
	return &MemoryBroker{history: max(history, 0), topics: map[string]*memTopic{}}
}

// Node returns a new node's Broker: give it to one hub.
func (b *MemoryBroker) Node() Broker { return &memNode{b: b} }

// Forget drops every topic, as a Redis restart without persistence does:
// the next publish or read starts each topic again under a new epoch.
func (b *MemoryBroker) Forget() {
	b.mu.Lock()
	old := b.topics
	b.topics = map[string]*memTopic{}
	b.mu.Unlock()
	for name, t := range old { // subscriptions survive, as Redis clients resubscribe
		t.mu.Lock()
		nodes := t.nodes
		t.nodes = nil
		t.mu.Unlock()
		nt := b.topic(name)
		nt.mu.Lock()
		for n, c := range nodes {
			nt.nodes[n] += c
		}
		nt.mu.Unlock()
	}
}

func (b *MemoryBroker) topic(name string) *memTopic {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.topics[name]
	if t == nil {
		t = &memTopic{epoch: newEpoch(), nodes: map[*memNode]int{}}
		b.topics[name] = t
	}
	return t
}

// newEpoch returns a random epoch name.
func newEpoch() string { return strconv.FormatUint(rand.Uint64()>>24, 36) }

// memNode is one hub's view of a MemoryBroker.
type memNode struct {
	b *MemoryBroker

	mu     sync.Mutex
	h      BrokerHandler
	closed bool
	// Drop, when set, is asked about every delivery to this node; true loses
	// it (a lost pub/sub message), for tests of gap filling.
	drop func(e *Event) bool
}

func (n *memNode) Publish(_ context.Context, m Message) (*Event, error) {
	t := n.b.topic(m.Topic)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	e := NewEvent(m.Topic, t.seq, m.Kind, m.Data, m.Time)
	e.Except = m.Except
	t.last = e
	if n.b.history > 0 {
		if len(t.ring) == n.b.history {
			copy(t.ring, t.ring[1:])
			t.ring = t.ring[:len(t.ring)-1]
		}
		t.ring = append(t.ring, e)
	}
	for node := range t.nodes {
		node.deliver(t.epoch, e)
	}
	return e, nil
}

func (n *memNode) deliver(epoch string, e *Event) {
	n.mu.Lock()
	h, drop := n.h, n.drop
	if n.closed {
		h = nil
	}
	n.mu.Unlock()
	if h != nil && (drop == nil || !drop(e)) {
		h.Deliver(epoch, e)
	}
}

func (n *memNode) Subscribe(_ context.Context, topic string) error {
	t := n.b.topic(topic)
	t.mu.Lock()
	t.nodes[n]++
	t.mu.Unlock()
	return nil
}

func (n *memNode) Unsubscribe(topic string) error {
	t := n.b.topic(topic)
	t.mu.Lock()
	if t.nodes[n]--; t.nodes[n] <= 0 {
		delete(t.nodes, n)
	}
	t.mu.Unlock()
	return nil
}

func (n *memNode) History(_ context.Context, topic string, after uint64) (History, error) {
	t := n.b.topic(topic)
	t.mu.Lock()
	defer t.mu.Unlock()
	h := History{Epoch: t.epoch, Latest: t.seq, Start: t.seq + 1, Last: t.last}
	if len(t.ring) > 0 {
		h.Start = t.ring[0].Seq
	}
	for _, e := range t.ring {
		if e.Seq > after {
			h.Events = append(h.Events, e)
		}
	}
	return h, nil
}

func (n *memNode) Run(h BrokerHandler) {
	n.mu.Lock()
	n.h = h
	n.mu.Unlock()
}

func (n *memNode) Close() error {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
	return nil
}
