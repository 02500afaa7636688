package ws

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"
)

// corkConn is the hijacked connection under coder/websocket: a user-space
// cork. coder/websocket flushes its buffered writer at the end of every
// message, which would make one write(2) per event. While the connection's
// writer holds the cork (a drained batch, a heartbeat), whatever the library
// flushes is gathered in one buffer, and Uncork sends it with a single
// write, within one write deadline. Writes made while it is not corked
// (pongs and close frames, which coder/websocket bounds itself) go straight
// to the socket. The buffer is borrowed from the server's pool for the batch
// only, so an idle connection holds none.
//
// Every write to the socket goes through Write or Uncork, under mu, so the
// frames of coder/websocket (whole frames, under its own frame lock) and the
// cork's flush never interleave.
type corkConn struct {
	net.Conn
	timeout time.Duration // deadline of a flush
	pool    *sync.Pool    // *[]byte flush buffers, shared by the server's connections

	mu     sync.Mutex
	corked bool
	buf    *[]byte // gathered frames while corked; nil otherwise
	writes uint64  // write(2) calls made on the socket (tests and stats)
}

// corkFlushAt is how much a corked batch gathers before it is written out
// early (a very large backlog goes out in writes of about this size).
const corkFlushAt = 64 << 10

// maxPooledCork is the largest flush buffer returned to the pool.
const maxPooledCork = 256 << 10

// Write gathers p while corked, and writes it to the socket otherwise.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		c.writes++
		return c.Conn.Write(p)
	}
	if c.buf == nil {
		c.buf = c.pool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
	if len(*c.buf) >= corkFlushAt {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Cork starts gathering writes.
func (c *corkConn) Cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

// Uncork writes what was gathered, in one write, and stops gathering.
func (c *corkConn) Uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	if c.buf != nil {
		if cap(*c.buf) <= maxPooledCork {
			*c.buf = (*c.buf)[:0]
			c.pool.Put(c.buf)
		}
		c.buf = nil
	}
	return err
}

// Writes reports how many write(2) calls the connection made.
func (c *corkConn) Writes() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// flushLocked writes the gathered bytes within the flush deadline; the
// deadline is lifted again afterwards, so that the library's own writes
// between batches are not cut by a stale one. Caller holds mu.
func (c *corkConn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	c.writes++
	_, err := c.Conn.Write(*c.buf)
	_ = c.Conn.SetWriteDeadline(time.Time{})
	*c.buf = (*c.buf)[:0]
	return err
}

// connBufferSize is the size of the buffered reader and writer given to
// coder/websocket in place of net/http's 4 KiB ones. Server frames are
// gathered by the cork, so the writer only needs to hold a frame header and
// a small control frame; clients send few, small frames. Smaller buffers
// are most of what an idle connection costs.
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

// pingFrame is an unmasked WebSocket ping with no payload (RFC 6455 5.5.2).
const pingFrame = "\x89\x00"

// gatherPing adds a protocol ping to the corked batch: the writer sends it
// itself, so a heartbeat costs no goroutine and no timer (coder/websocket's
// Ping waits for the pong in a goroutine of its own). The pong arrives
// through the reader (onPong). It is written between whole frames of the
// writer's own, and the library's frames from other goroutines (pongs,
// close) are whole single Writes, so frames never interleave.
func (c *corkConn) gatherPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		c.buf = c.pool.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, pingFrame...)
}
