package ws

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// corkConn is the hijacked connection under coder/websocket, and the
// connection's batch writer: a user-space cork. coder/websocket flushes its
// buffered writer at the end of every message (one write(2) per event), takes
// two locks per message and arms a timer per message for a context deadline.
// The connection loop's batches (events, control frames, heartbeats) are
// therefore not written through the library: corkConn encodes each item as
// an unmasked text frame (RFC 6455 §5.2: a 2 to 10-byte header, then the
// payload), gathers the batch in one buffer and sends it with a single write,
// bounded by the server's WriteGuard. coder/websocket keeps everything else:
// the handshake, reading, control frames (pongs, close) and the close
// handshake; its writes (whole frames, one Write each: its buffered writer
// is flushed at the end of every frame) go straight to the socket.
//
// Every write to the socket happens under mu, so the library's frames and a
// batch never interleave; once the library has written a close frame, no
// batch follows it. The gather buffer is borrowed from the server's pool for
// one batch only, so an idle connection holds none.
type corkConn struct {
	net.Conn
	pool  *sync.Pool // *[]byte batch buffers, shared by the server's connections
	clock *transports.WriteClock

	// deflate: the upgrade negotiated permessage-deflate, so batches go
	// through the library (lib), which compresses (writeBatchLib). Set in
	// Hijack, before the connection runs.
	deflate bool
	lib     *websocket.Conn

	mu        sync.Mutex
	closeSent bool   // the library wrote a close frame: no data may follow
	writes    uint64 // write(2) calls made on the socket (tests and stats)
	// gather, while a batch is written through the library, collects the
	// library's writes (whole frames), which then go out in one write.
	gathering bool
	gather    []byte
}

// corkFlushAt is how much a batch gathers before it is written out early
// (a very large backlog goes out in writes of about this size).
const corkFlushAt = 64 << 10

// maxPooledCork is the largest batch buffer returned to the pool.
const maxPooledCork = 256 << 10

// pingFrame is an unmasked WebSocket ping with no payload (RFC 6455
// §5.5.2). The writer sends it itself, so a heartbeat costs no goroutine
// and no timer (coder/websocket's Ping waits for the pong in a goroutine of
// its own); the pong arrives through the reader (onPong).
const pingFrame = "\x89\x00"

// Write is coder/websocket's path to the socket (control frames, the
// close handshake, and error frames written before the loop starts).
func (c *corkConn) Write(p []byte) (int, error) {
	if q, ok := invalidCloseReply(p); ok { // (inbound.go)
		if _, err := c.Write(q); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > 0 && p[0] == 0x88 { // FIN + close
		c.closeSent = true
	}
	if c.gathering {
		c.gather = append(c.gather, p...)
		if len(c.gather) < corkFlushAt {
			return len(p), nil
		}
		err := c.flushLocked(c.gather)
		c.gather = c.gather[:0]
		return len(p), err
	}
	c.writes++
	return c.Conn.Write(p)
}

// writeBatchLib is writeBatch for a connection that negotiated
// permessage-deflate: each item is a message written through the library,
// which compresses it, and the library's writes are gathered into one
// write (or, past corkFlushAt, writes of about that size), bounded by the
// server's WriteGuard. Frames the library writes meanwhile from other
// goroutines (a pong, a close reply) join the gathered batch in order.
func (c *corkConn) writeBatchLib(items []transports.Item, ping bool) error {
	c.mu.Lock()
	if c.closeSent {
		c.mu.Unlock()
		return net.ErrClosed
	}
	bp := c.pool.Get().(*[]byte)
	c.gather, c.gathering = (*bp)[:0], true
	if ping {
		c.gather = append(c.gather, pingFrame...)
	}
	c.mu.Unlock()
	c.clock.Begin()
	var err error
	for _, it := range items {
		p := it.Control
		if it.Event != nil {
			p = it.Event.JSON()
		}
		// No context deadline (it would cost a timer per message): the
		// library only appends to the gathered batch, and the WriteGuard
		// bounds the batch's write below.
		if err = c.lib.Write(context.Background(), websocket.MessageText, p); err != nil {
			break
		}
	}
	c.mu.Lock()
	b := c.gather
	c.gather, c.gathering = nil, false
	if err == nil && len(b) > 0 {
		c.writes++
		_, err = c.Conn.Write(b)
	}
	c.mu.Unlock()
	c.clock.End()
	if cap(b) <= maxPooledCork {
		*bp = b[:0]
		c.pool.Put(bp)
	}
	return err
}

// writeBatch sends items as text frames in one write (or, past
// corkFlushAt, in writes of about that size). A heartbeat is a batch with
// ping set: a protocol ping goes first.
func (c *corkConn) writeBatch(items []transports.Item, ping bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent {
		return net.ErrClosed
	}
	bp := c.pool.Get().(*[]byte)
	b := (*bp)[:0]
	if ping {
		b = append(b, pingFrame...)
	}
	var err error
	for _, it := range items {
		p := it.Control
		if it.Event != nil {
			p = it.Event.JSON()
		}
		b = appendTextFrame(b, p)
		if len(b) >= corkFlushAt {
			if err = c.flushLocked(b); err != nil {
				break
			}
			b = b[:0]
		}
	}
	if err == nil {
		err = c.flushLocked(b)
	}
	if cap(b) <= maxPooledCork {
		*bp = b[:0]
		c.pool.Put(bp)
	}
	return err
}

// flushLocked writes b to the socket under the write guard. Caller holds mu.
func (c *corkConn) flushLocked(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	c.writes++
	if c.gathering { // inside writeBatchLib, which holds the clock
		_, err := c.Conn.Write(b)
		return err
	}
	c.clock.Begin()
	_, err := c.Conn.Write(b)
	c.clock.End()
	return err
}

// Unsent implements transports.Unsenter.
func (c *corkConn) Unsent() (int, bool) { return transports.SocketUnsent(c.Conn) }

// cut makes a write that overran the write timeout fail (WriteGuard).
func (c *corkConn) cut() { _ = c.Conn.SetWriteDeadline(time.Now()) }

// Writes reports how many write(2) calls the connection made.
func (c *corkConn) Writes() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// appendTextFrame appends p as one unmasked, final text frame.
func appendTextFrame(b, p []byte) []byte {
	const finText = 0x81
	switch n := len(p); {
	case n < 126:
		b = append(b, finText, byte(n))
	case n <= 0xffff:
		b = append(b, finText, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// connBufferSize is the size of the buffered reader and writer given to
// coder/websocket in place of net/http's 4 KiB ones. Batches do not go
// through the library's writer, which only needs to hold a control frame;
// clients send few, small frames. These buffers are most of what an idle
// connection costs.
const connBufferSize = 512

// corkWriter wraps the upgrade's ResponseWriter so that coder/websocket's
// Accept hijacks a corkConn, with small buffers.
type corkWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	make func(net.Conn) *corkConn
	conn *corkConn // set by Hijack
}

// Hijack implements http.Hijacker.
func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := w.rc.Hijack()
	if err != nil {
		return nil, nil, err
	}
	cc := w.make(nc)
	// Accept has set the response headers before it hijacks: they say
	// whether this connection compresses.
	cc.deflate = negotiatedDeflate(w.Header().Get("Sec-WebSocket-Extensions"))
	w.conn = cc
	r := brw.Reader
	if r.Buffered() == 0 {
		// Nothing read ahead: a small reader will do. (Bytes read ahead are
		// rare; they stay in net/http's reader, which Accept drains.)
		r = bufio.NewReaderSize(cc, connBufferSize)
	}
	return cc, bufio.NewReadWriter(r, bufio.NewWriterSize(cc, connBufferSize)), nil
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *corkWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
