package sse

import (
	"net/http"
	"time"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/twinstream/twinstream/transports"
)

// heartbeatComment is the text of the heartbeat comment line (": ping").
const heartbeatComment = "ping"

// A writer is one stream's single writer. It runs on the handler goroutine
// and is the only code that touches the response.
type writer struct {
	s       *Server
	sub     *transports.Subscriber
	w       http.ResponseWriter
	sess    *gosse.Session
	rc      *http.ResponseController
	stream  *transports.Stream
	cursors transports.Cursors
	release func() // the limiter slot
	clock   *transports.WriteClock
	remote  string
	cut     bool // end by cutting the connection (slow consumer)
}

// upgrade starts an event-stream response. The headers go out with the
// first frame.
// It returns a nil Session after answering 500 when w cannot stream.
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request) (*gosse.Session, *http.ResponseController) {
	sess, err := gosse.Upgrade(w, r)
	if err != nil {
		s.log.Error("sse: response writer cannot stream", "err", err)
		writeError(w, http.StatusInternalServerError, transports.NewErrorFrame(transports.CodeInternal, "streaming unsupported"))
		return nil, nil
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx-style proxies not to buffer
	// A server-wide http.Server.WriteTimeout set a deadline when the
	// request was read; it would cut the stream. Lift it: from here on each
	// write gets its own deadline (see deadline), lifted again once the
	// write is done. (net/http already lifts the read deadline while a
	// handler runs.)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	return sess, rc
}

// refuse answers a stream request that cannot be served now (over a
// connection limit, shutting down) in a way that makes EventSource retry
// later: 200 text/event-stream with retry: and one error frame without id,
// then the end of the response.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code, msg string) {
	sess, rc := s.upgrade(w, r)
	if sess == nil {
		return
	}
	s.deadline(rc)
	m := &gosse.Message{Retry: s.retry}
	m.AppendData(string(transports.NewErrorFrame(code, msg).JSON()))
	if err := sess.Send(m); err == nil {
		_ = sess.Flush()
	}
}

func (s *Server) deadline(rc *http.ResponseController) {
	// Ignored error: a ResponseWriter without deadlines (not net/http's)
	// simply gets none.
	_ = rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
}

// close releases the stream. net/http writes the final chunk after the
// handler returns: it gets a fresh deadline so that a clean end stays
// clean — except for a slow consumer, whose connection is cut rather than
// kept alive behind megabytes of unread frames.
func (wr *writer) close() {
	if wr.clock != nil {
		wr.clock.Release()
	}
	wr.sub.Close(nil)
	wr.release()
	wr.s.leave()
	if wr.rc == nil {
		return
	}
	if wr.cut {
		_ = wr.rc.SetWriteDeadline(time.Now()) // the final write fails, net/http closes the connection
		return
	}
	wr.s.deadline(wr.rc)
}

// writer implements transports.Conn: the shared connection loop
// (transports.Serve) decides when to write, ping and close; this file only
// does the SSE I/O.
var _ transports.Conn = (*writer)(nil)

// WriteBatch writes a drained batch: every frame is encoded into one buffer
// (id: the stream's cursor after the event, data: its wire JSON; control
// frames as data only), which goes out in one Write and one flush, within
// one write deadline.
func (wr *writer) WriteBatch(items []transports.Item) error {
	bp := wr.s.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	for _, it := range items {
		if it.Event != nil {
			wr.cursors.Advance(it.Event)
			b = append(b, "id: "...)
			b = wr.cursors.AppendFormat(b, wr.stream.Single)
			b = append(b, "\ndata: "...)
			b = append(b, it.Event.JSON()...)
		} else {
			b = append(b, "data: "...)
			b = append(b, it.Control...)
		}
		b = append(b, "\n\n"...)
	}
	err := wr.write(b)
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		wr.s.bufs.Put(bp)
	}
	return err
}

// maxPooledBuf is the largest batch buffer returned to the pool.
const maxPooledBuf = 256 << 10

// Heartbeat writes a comment line (": ping").
func (wr *writer) Heartbeat() error { return wr.write([]byte(heartbeatFrame)) }

// heartbeatFrame is the heartbeat comment.
const heartbeatFrame = ": " + heartbeatComment + "\n\n"

// Close ends the stream: the handler returns and close releases it. A
// slow consumer's connection is cut rather than ended cleanly (what the
// close reason table says of it); every other end is a clean end of the
// response, which EventSource follows with a reconnect (or, after a
// finished task, with a 204 that stops it).
func (wr *writer) Close(r *transports.CloseReason) {
	if r != nil {
		wr.s.log.Debug("sse: stream closed by server", "remote", wr.remote, "reason", r.Code)
	}
	wr.cut = r == transports.ReasonSlowConsumer
}

// write sends b and flushes it, bounded by the server's WriteGuard (no
// deadline is set per write: a stream has none between writes, because
// over HTTP/2 an expired one resets the stream even when nothing is being
// written).
func (wr *writer) write(b []byte) error {
	wr.clock.Begin()
	_, err := wr.w.Write(b)
	if err == nil {
		err = wr.sess.Flush()
	}
	wr.clock.End()
	if err != nil {
		wr.s.log.Debug("sse: write failed", "remote", wr.remote, "err", err)
	}
	return err
}

// cut makes a write that overran the write timeout fail (WriteGuard).
func (wr *writer) expire() { _ = wr.rc.SetWriteDeadline(time.Now()) }

// hello writes the first frame: retry:, and the stream's resume position as
// id: when it has one. A live stream's starting cursors are a position the
// client has seen by definition, so a reconnect before any event still
// resumes without a gap. A snapshot stream started without a cursor has no
// position until its snapshot arrives.
func (wr *writer) hello() error {
	m := &gosse.Message{Retry: wr.s.retry}
	if !wr.stream.Snapshot || len(wr.stream.Cursors) > 0 {
		m.ID = gosse.ID(wr.stream.CursorID(wr.cursors))
	}
	wr.s.deadline(wr.rc)
	if err := wr.sess.Send(m); err != nil {
		return err
	}
	return wr.flush()
}

// flush sends what was written and lifts the write deadline: an idle
// stream has no deadline, because over HTTP/2 an expired one resets the
// stream even when nothing is being written.
func (wr *writer) flush() error {
	if err := wr.sess.Flush(); err != nil {
		return err
	}
	_ = wr.rc.SetWriteDeadline(time.Time{})
	return nil
}
