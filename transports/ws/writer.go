package ws

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// conn implements transports.Conn: the shared connection loop
// (transports.Serve) decides when to write, ping and close; this file only
// does the WebSocket I/O.
var _ transports.Conn = (*conn)(nil)

// WriteBatch writes a drained batch as text frames, in one write (see
// corkConn), bounded by the server's WriteGuard.
// A connection that negotiated permessage-deflate writes through
// coder/websocket instead, which compresses, gathered into one write too.
func (c *conn) WriteBatch(items []transports.Item) error {
	if c.cork.deflate {
		return c.cork.writeBatchLib(items, false)
	}
	return c.cork.writeBatch(items, false)
}

// Heartbeat sends a protocol ping and the app-level ping frame, in one
// write. Pongs (protocol or app-level) count as liveness.
func (c *conn) Heartbeat() error {
	items := []transports.Item{{Control: transports.PingFrame(time.Now())}}
	if c.cork.deflate {
		return c.cork.writeBatchLib(items, true)
	}
	return c.cork.writeBatch(items, true)
}

// Close ends the connection: with a reason, a close frame with the
// reason's code and text (the close handshake is bounded by
// coder/websocket, a few seconds for a dead peer); without one, after the
// reader stopped or a write failed.
func (c *conn) Close(r *transports.CloseReason) {
	if r != nil {
		c.closeWith(r)
		return
	}
	select {
	case <-c.readDone:
		c.afterRead()
	default:
		_ = c.ws.CloseNow() // a write failed
	}
}

// writeFrame writes one text frame within WriteTimeout, outside the loop
// (errors reported right after the upgrade).
func (c *conn) writeFrame(b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// closeWith closes the connection with a reason's code and text.
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
