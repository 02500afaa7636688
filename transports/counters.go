package transports

import (
	"sync"
	"time"
)

// ReasonGone labels, in Stats.Disconnects, a connection that ended without
// a reason of the close table: its peer went away or a write failed.
const ReasonGone = "gone"

// hubCounts holds the hub's counters that are labelled (by transport, by
// close reason): connections served and how they ended, counted by Serve.
// They change once per connection, so a mutex is cheap enough.
type hubCounts struct {
	// written is HubConfig.Written (nil: not set).
	written func(transport string, items []Item, at time.Time)

	mu          sync.Mutex
	connects    map[string]uint64            // by transport
	disconnects map[string]map[string]uint64 // by transport, then reason code
}

func (c *hubCounts) connected(transport string) {
	c.mu.Lock()
	if c.connects == nil {
		c.connects = map[string]uint64{}
	}
	c.connects[transport]++
	c.mu.Unlock()
}

func (c *hubCounts) disconnected(transport string, r *CloseReason) {
	code := ReasonGone
	if r != nil {
		code = r.Code
	}
	c.mu.Lock()
	if c.disconnects == nil {
		c.disconnects = map[string]map[string]uint64{}
	}
	m := c.disconnects[transport]
	if m == nil {
		m = map[string]uint64{}
		c.disconnects[transport] = m
	}
	m[code]++
	c.mu.Unlock()
}

// observe counts a connection that Serve starts to serve and returns c
// wrapped, so that its Close counts how it ended and each successful
// WriteBatch reaches HubConfig.Written.
func (c *hubCounts) observe(transport string, conn Conn) Conn {
	c.connected(transport)
	return &observed{Conn: conn, counts: c, transport: transport}
}

// observed is a Conn under Serve, as observe wraps it.
type observed struct {
	Conn
	counts    *hubCounts
	transport string
}

func (o *observed) WriteBatch(items []Item) error {
	err := o.Conn.WriteBatch(items)
	if err == nil && o.counts.written != nil {
		o.counts.written(o.transport, items, time.Now())
	}
	return err
}

func (o *observed) Close(r *CloseReason) {
	o.Conn.Close(r)
	o.counts.disconnected(o.transport, r)
}

// fill copies the counters into st.
func (c *hubCounts) fill(st *Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st.Connects = make(map[string]uint64, len(c.connects))
	for tr, n := range c.connects {
		st.Connects[tr] = n
	}
	st.Disconnects = make(map[string]map[string]uint64, len(c.disconnects))
	for tr, m := range c.disconnects {
		cp := make(map[string]uint64, len(m))
		for code, n := range m {
			cp[code] = n
		}
		st.Disconnects[tr] = cp
	}
}

// Gauges is what the hub's connections hold right now.
type Gauges struct {
	// Subscriptions counts topic subscriptions of open connections.
	Subscriptions int
	// Queued counts items waiting in connections' queues, QueuedMax the
	// longest queue.
	Queued, QueuedMax int
}

// Gauges walks every connection (under the hub's lock, then each
// connection's: the lock order of hub.go), so it costs a lock per
// connection: for a metrics scrape, not for every publish.
func (h *Hub) Gauges() Gauges {
	var g Gauges
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		g.Subscriptions += len(s.topics)
		n := s.queue.len()
		s.mu.Unlock()
		g.Queued += n
		g.QueuedMax = max(g.QueuedMax, n)
	}
	return g
}
