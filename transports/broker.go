package transports

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// A Broker is what the hubs of several nodes share: it assigns each topic's
// seq (contiguous per topic across every node), keeps each topic's history
// and epoch, and carries every publish to every node that follows the
// topic. The hub keeps what is local (subscribers, their queues, fan-out,
// and a window of each followed topic's history that mirrors the broker's,
// so that a resume is served under the topic's lock as on one node).
//
// A hub without a broker (HubConfig.Broker nil, the default) is its own
// in-memory broker: one node, no hop. [MemoryBroker] shares topics between
// hubs of one process; package redisbroker between processes.
//
// Hubs call a Broker from any goroutine and never while holding a lock of
// their own; a Broker calls its BrokerHandler likewise never holding a lock
// the hub could wait for, except that a broker delivering synchronously
// (MemoryBroker) holds its topic's lock across Deliver, which is what keeps
// deliveries in seq order.
type Broker interface {
	// Publish appends an event to m.Topic: it assigns the topic's next seq,
	// records the event in the topic's history (creating the topic's epoch
	// if the broker has none for it) and sends it to every node that
	// subscribed to the topic, this one included. It returns the event as
	// published. The hub has validated m. An unreachable broker is an error
	// wrapping ErrUnavailable.
	Publish(ctx context.Context, m Message) (*Event, error)
	// Subscribe makes this node receive the topic's events (through the
	// handler given to Run) from the moment it returns: an event published
	// after Subscribe returned is delivered, and one published before is in
	// History. Subscriptions are counted: each Subscribe is undone by one
	// Unsubscribe.
	Subscribe(ctx context.Context, topic string) error
	// Unsubscribe undoes one Subscribe.
	Unsubscribe(topic string) error
	// History returns the topic's retained events with seq > after, its
	// epoch and bounds.
	History(ctx context.Context, topic string, after uint64) (History, error)
	// Run tells the broker where to deliver; NewHub calls it once.
	Run(h BrokerHandler)
	// Close releases the broker's connections. The hub does not call it: the
	// broker's owner does, after closing the hub.
	Close() error
}

// BrokerHandler receives what a Broker delivers to a node. The hub
// implements it; its methods never block on a client.
type BrokerHandler interface {
	// Deliver hands over an event of a topic this node subscribed to, in the
	// order the broker sent it, with the topic's epoch. The hub delivers
	// events to its subscribers in seq order: one that skips ahead waits
	// while the hub fills the gap from History; one it already has is
	// dropped.
	Deliver(epoch string, e *Event)
	// Resubscribed says that the node's subscription to topic was
	// re-established (the broker reconnected): events may have been missed,
	// and the hub catches up from History.
	Resubscribed(topic string)
}

// A Message is an event to publish, before the broker numbers it.
type Message struct {
	Topic  string
	Kind   string
	Data   json.RawMessage // a JSON object (nil means {}), validated by the hub
	Except string          // see Event.Except
	Time   time.Time       // publish time, kept to the microsecond (the wire's ts)
}

// History is a topic's retained history after a cursor.
type History struct {
	// Epoch identifies the topic's current life in the broker: a broker that
	// lost the topic (a Redis restart without persistence) starts it again
	// from seq 1 under a new epoch, and a hub that followed the old one
	// tells its subscribers with a reset (ResetEpochChanged).
	Epoch string
	// Latest is the topic's latest seq (0 for a topic never published to).
	Latest uint64
	// Start is the oldest retained seq (Latest+1 when none is retained).
	Start uint64
	// Events are the retained events with seq > after, oldest first.
	Events []*Event
	// Last is the latest event, even when history keeps none (snapshots),
	// or nil.
	Last *Event
}

// ErrUnavailable wraps a broker's failure to answer (Redis down): a
// publish was not made, a subscription could not start. The demo answers
// 503. Connections already open stay open and catch up when the broker is
// back.
var ErrUnavailable = errors.New("transports: broker unavailable")

// ResetEpochChanged is the reason of the reset a subscriber gets when the
// broker lost its topic and started it again (a new epoch): the seq starts
// over, and the reset's seq is the new cursor.
const ResetEpochChanged = "epoch_changed"
