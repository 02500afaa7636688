package ws

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// writeLoop is the connection's only writer of data frames. It drains the
// subscriber's queue, sends heartbeats and closes the connection when the
// subscriber is kicked, the stream ends, the peer goes silent or the reader
// stops. It holds no lock while writing, and every write has a deadline.
func (c *conn) writeLoop() {
	hb, idle := c.s.cfg.Heartbeat, c.s.cfg.IdleTimeout
	nextPing := c.s.now() + int64(hb)
	timer := time.NewTimer(min(hb, idle))
	defer timer.Stop()
	var items []transports.Item
	for {
		select {
		case <-c.sub.Ready():
			items = c.sub.Drain(items[:0])
			end, err := c.writeItems(items)
			clear(items)
			if cap(items) > 256 {
				items = nil // a burst's buffer goes; idle connections stay small
			}
			if err != nil {
				c.s.log.Debug("write failed", "err", err)
				_ = c.ws.CloseNow()
				return
			}
			if end {
				c.closeWith(transports.ReasonDone)
				return
			}
		case <-c.sub.Done():
			reason := transports.ReasonOf(c.sub.Cause())
			if reason == nil {
				reason = reasonInternal
			}
			c.closeWith(reason)
			return
		case <-c.readDone:
			c.afterRead()
			return
		case <-timer.C:
			now := c.s.now()
			seen := c.seen.Load()
			if now-seen >= int64(idle) {
				c.s.log.Debug("peer silent, closing", "silent", time.Duration(now-seen))
				c.closeWith(transports.ReasonIdleTimeout)
				return
			}
			if now >= nextPing {
				if err := c.heartbeat(); err != nil {
					_ = c.ws.CloseNow()
					return
				}
				nextPing = now + int64(hb)
			}
			timer.Reset(max(time.Duration(min(nextPing, seen+int64(idle))-now), time.Millisecond))
		}
	}
}

// writeItems writes a drained batch. It stops early when the subscriber was
// kicked meanwhile (the caller then closes with the cause) and reports
// whether a single-topic stream ended. One deadline context serves a run of
// frames and is renewed once half of WriteTimeout has passed, so every
// frame gets between WriteTimeout/2 and WriteTimeout; this spares a timer
// per frame when a backlog is drained.
func (c *conn) writeItems(items []transports.Item) (end bool, err error) {
	dl := deadline{d: c.s.cfg.WriteTimeout}
	defer dl.stop()
	for _, it := range items {
		select {
		case <-c.sub.Done():
			return false, nil
		default:
		}
		b := it.Control
		if it.Event != nil {
			b = it.Event.JSON()
		}
		if err := c.ws.Write(dl.ctx(), websocket.MessageText, b); err != nil {
			return false, err
		}
		if it.End && c.single {
			return true, nil
		}
	}
	return false, nil
}

// deadline hands out a context that expires d after it was made, renewed
// once half of d has passed.
type deadline struct {
	d      time.Duration
	c      context.Context
	cancel context.CancelFunc
	renew  time.Time
}

func (dl *deadline) ctx() context.Context {
	if now := time.Now(); dl.c == nil || now.After(dl.renew) {
		dl.stop()
		dl.c, dl.cancel = context.WithTimeout(context.Background(), dl.d)
		dl.renew = now.Add(dl.d / 2)
	}
	return dl.c
}

func (dl *deadline) stop() {
	if dl.cancel != nil {
		dl.cancel()
	}
}

// writeFrame writes one text frame within WriteTimeout.
func (c *conn) writeFrame(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// heartbeat sends the app-level ping frame and starts a protocol ping.
// coder/websocket's Ping waits for the pong, which the reader receives; it
// runs in a short-lived goroutine (at most one per connection) so that the
// writer never waits for a peer's answer. Pongs count as liveness (onPong).
func (c *conn) heartbeat() error {
	if c.pinging.CompareAndSwap(false, true) {
		c.pings.Add(1)
		go func() {
			defer c.pings.Done()
			defer c.pinging.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.IdleTimeout)
			defer cancel()
			_ = c.ws.Ping(ctx)
		}()
	}
	return c.writeFrame(transports.PingFrame(time.Now()))
}

// closeWith closes the connection with a reason's code and text. The close
// handshake is bounded by coder/websocket (a few seconds for a dead peer).
func (c *conn) closeWith(r *transports.CloseReason) {
	if err := c.ws.Close(websocket.StatusCode(r.WSStatus), r.Text); err != nil {
		c.s.log.Debug("close", "code", r.WSStatus, "err", err)
	}
}

// afterRead finishes a connection whose reader stopped.
func (c *conn) afterRead() {
	err := c.readErr
	switch {
	case errors.Is(err, websocket.ErrMessageTooBig):
		// coder/websocket already sent the 1009 close frame; this
		// completes the close handshake.
		c.closeWith(transports.ReasonMessageTooBig)
	default:
		// The peer closed (the library answered its close frame) or the
		// connection failed.
		c.s.log.Debug("reader stopped", "err", err)
		_ = c.ws.CloseNow()
	}
}
