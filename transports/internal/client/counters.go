package client

import "sync/atomic"

// Counters are the counters both clients keep, on atomics: safe for
// concurrent use. The zero value is ready.
type Counters struct {
	connects, reconnects, resets, events, bytes, pings atomic.Uint64
}

// Stats is a snapshot of Counters. Its fields are ws.ClientStats', in its
// order, so that one converts to the other.
type Stats struct {
	Connects   uint64
	Reconnects uint64
	Resets     uint64
	Events     uint64
	Bytes      uint64
	Pings      uint64
}

// Opened counts a connection that opened: a connect, and a reconnect
// unless it is the first.
func (c *Counters) Opened() {
	if c.connects.Add(1) > 1 {
		c.reconnects.Add(1)
	}
}

// Event counts an event received; reset tells a reset event.
func (c *Counters) Event(reset bool) {
	c.events.Add(1)
	if reset {
		c.resets.Add(1)
	}
}

// Received counts n bytes read.
func (c *Counters) Received(n int) { c.bytes.Add(uint64(n)) }

// Pinged counts n heartbeats received.
func (c *Counters) Pinged(n uint64) { c.pings.Add(n) }

// Snapshot returns the counters' current values.
func (c *Counters) Snapshot() Stats {
	return Stats{
		Connects:   c.connects.Load(),
		Reconnects: c.reconnects.Load(),
		Resets:     c.resets.Load(),
		Events:     c.events.Load(),
		Bytes:      c.bytes.Load(),
		Pings:      c.pings.Load(),
	}
}
