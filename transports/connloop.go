package transports

import (
	"sync/atomic"
	"time"
)

// A Conn is one transport's I/O on one connection: what the shared
// connection loop ([Serve]) drives. Serve calls it from one goroutine only,
// never under a lock; a Conn holds no policy of its own (when to write,
// batch, ping or close is decided by Serve for both transports alike).
type Conn interface {
	// WriteBatch writes a drained batch of items, in queue order, as one
	// write on the wire where the transport allows it, within one write
	// deadline. The batch never holds an item after one with End.
	WriteBatch(items []Item) error
	// Heartbeat writes the transport's keep-alive (WebSocket: a protocol
	// ping and an app-level ping frame; SSE: a comment line).
	Heartbeat() error
	// Close ends the connection. A reason says why the server ends it (the
	// transport shows it as its table in close.go says); nil means the
	// connection already failed or the peer went away, and it is released
	// without a goodbye.
	Close(reason *CloseReason)
}

// An Unsenter is a Conn that can tell how many of the bytes it wrote the
// kernel has not sent yet (SIOCOUTQ on Linux). Serve counts them against
// the subscriber's bytes in flight (HubConfig.QueueBytes), once a second
// and whenever a quarter of the budget was written since it last asked:
// a client that stops reading is closed as a slow consumer while there is
// still room in its socket for the close, even if it answers heartbeats.
type Unsenter interface {
	Unsent() (n int, ok bool)
}

// unsentEvery is how often Serve asks an Unsenter.
const unsentEvery = time.Second

// LoopConfig is what Serve needs besides the connection.
type LoopConfig struct {
	// Heartbeat is the keep-alive cadence: one Heartbeat every Heartbeat,
	// whatever the traffic, so that both transports cost the same and a
	// peer that only reads is still asked for a sign of life.
	Heartbeat time.Duration
	// IdleTimeout, with Heard, closes a connection whose peer was silent
	// that long with ReasonIdleTimeout. 0 disables the check (SSE, whose
	// peer never speaks; a dead SSE peer shows as a failed write).
	IdleTimeout time.Duration
	// Heard reports how long ago the peer was last heard from.
	Heard func() time.Duration
	// Gone is closed when the peer went away (request context done,
	// WebSocket reader stopped); Serve then calls Close(nil).
	Gone <-chan struct{}
	// Closing, when closed, ends the connection with ReasonShutdown (for a
	// transport that does not kick its subscribers on shutdown).
	Closing <-chan struct{}
}

// Serve is the one connection loop of both transports. It waits for the
// subscriber's queue (Ready), drains everything queued in one go (one wake-up per
// batch, not per event), cuts the batch after an item with End (a
// single-topic stream that finished), and hands it to c.WriteBatch; it sends
// a heartbeat every cfg.Heartbeat, closes a silent peer after
// cfg.IdleTimeout, and closes the connection with the subscriber's cause
// when the hub kicks it (shutdown, admin drop, slow consumer). It returns
// after calling c.Close exactly once; the caller then releases the
// subscriber.
//
// Serve waits on the subscriber's Ready channel alone (a select over
// several channels locks each of them on every wake-up, once per batch):
// the hub wakes it when it queues items or kicks the subscriber, the
// heartbeat timer wakes it, and whoever closes cfg.Gone or cfg.Closing must
// then call the subscriber's Wake.
//
// The batch buffer is borrowed from the hub for the write and returned
// after it, so an idle connection holds no batch memory.
func Serve(sub *Subscriber, c Conn, cfg LoopConfig) {
	hb, idle := cfg.Heartbeat, cfg.IdleTimeout
	if hb <= 0 {
		hb = DefaultHeartbeat
	}
	start := time.Now()
	nextPing := hb
	// The heartbeat timer wakes the loop through the subscriber too, so the
	// loop's wait is a plain receive on one channel (a select over several
	// channels costs a lock of each on every wake-up, once per batch).
	var due atomic.Bool
	timer := time.AfterFunc(loopWait(hb, idle, cfg.Heard), func() {
		due.Store(true)
		sub.Wake()
	})
	defer timer.Stop()
	unsent, _ := c.(Unsenter)
	c = sub.hub.stats.counts.observe(sub.transport, c) // counts it, how it ends and what it writes (counters.go)
	var checked time.Duration
	written := 0 // bytes written since the last look at unsent
	for {
		<-sub.Ready()
		if due.Swap(false) {
			now := time.Since(start)
			if idle > 0 && cfg.Heard() >= idle {
				c.Close(ReasonIdleTimeout)
				return
			}
			if now >= nextPing {
				if err := c.Heartbeat(); err != nil {
					c.Close(nil)
					return
				}
				nextPing = now + hb
			}
			timer.Reset(loopWait(nextPing-now, idle, cfg.Heard))
		}
		// Woken: the hub queued items or kicked the subscriber, or the
		// transport saw its peer go (or its server close).
		switch {
		case closed(sub.Done()):
			c.Close(ReasonFor(sub.Cause()))
			return
		case closed(cfg.Gone):
			c.Close(nil)
			return
		case closed(cfg.Closing):
			c.Close(ReasonShutdown)
			return
		}
		b := sub.drain()
		if b == nil {
			continue // woken for a batch an earlier drain took
		}
		if unsent != nil {
			_, size := weigh(b.items)
			written += size
			if now := time.Since(start); now-checked >= unsentEvery || written >= sub.maxBytes/4 {
				checked, written = now, 0
				if n, ok := unsent.Unsent(); ok && n > sub.inFlightBudget() {
					sub.release(b)
					sub.Slow()
					c.Close(ReasonSlowConsumer)
					return
				}
			}
		}
		items, end := cutAtEnd(b.items)
		err := c.WriteBatch(items)
		sub.release(b)
		switch {
		case err != nil:
			c.Close(nil)
			return
		case end:
			c.Close(ReasonDone)
			return
		}
	}
}

// closed reports whether ch is closed (a nil channel never is).
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// loopWait is how long Serve sleeps: until the next heartbeat, or until the
// peer's silence would reach idle, whichever comes first.
func loopWait(toPing, idle time.Duration, heard func() time.Duration) time.Duration {
	d := toPing
	if idle > 0 && heard != nil {
		d = min(d, idle-heard())
	}
	return max(d, time.Millisecond)
}

// cutAtEnd returns items up to and including the first with End, and
// whether there was one.
func cutAtEnd(items []Item) ([]Item, bool) {
	for i := range items {
		if items[i].End {
			return items[:i+1], true
		}
	}
	return items, false
}
