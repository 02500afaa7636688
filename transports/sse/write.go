package sse

import (
	"net/http"
	"time"
	"unsafe"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/twinstream/twinstream/transports"
)

// heartbeatComment is the text of the heartbeat comment line (": ping").
const heartbeatComment = "ping"

// A writer is one stream's single writer. It runs on the handler goroutine
// and is the only code that touches the response.
type writer struct {
	s         *Server
	sub       *transports.Subscriber
	sess      *gosse.Session
	rc        *http.ResponseController
	stream    *transports.Stream
	cursors   transports.Cursors
	items     []transports.Item // drained batch, reused; nil until the first batch
	heartbeat *time.Timer
	release   func() // the limiter slot
	remote    string
	cut       bool // end by cutting the connection (slow consumer)
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

// loop writes the stream until it ends: the subscriber is kicked
// (shutdown, admin drop, slow consumer), a single-topic stream finishes,
// the client goes away (gone closes), a write fails, or the server shuts
// down. It keeps few locals: an idle stream waits here.
func (wr *writer) loop(gone <-chan struct{}) {
	for {
		select {
		case <-wr.sub.Ready():
			if !wr.flushQueue() {
				return
			}
		case <-wr.heartbeat.C:
			if !wr.ping() {
				return
			}
		case <-wr.sub.Done():
			wr.kicked()
			return
		case <-gone:
			return
		case <-wr.s.closing:
			return
		}
	}
}

// close releases the stream. net/http writes the final chunk after the
// handler returns: it gets a fresh deadline so that a clean end stays
// clean — except for a slow consumer, whose connection is cut rather than
// kept alive behind megabytes of unread frames.
func (wr *writer) close() {
	if wr.heartbeat != nil {
		wr.heartbeat.Stop()
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

func (wr *writer) flushQueue() bool {
	end, err := wr.batch()
	if err != nil {
		wr.s.log.Debug("sse: write failed", "remote", wr.remote, "err", err)
		return false
	}
	if end {
		wr.s.log.Debug("sse: stream complete", "remote", wr.remote)
		return false
	}
	wr.heartbeat.Reset(wr.s.heartbeat)
	return true
}

func (wr *writer) ping() bool {
	if err := wr.comment(); err != nil {
		wr.s.log.Debug("sse: heartbeat failed", "remote", wr.remote, "err", err)
		return false
	}
	wr.heartbeat.Reset(wr.s.heartbeat)
	return true
}

func (wr *writer) kicked() {
	cause := wr.sub.Cause()
	wr.s.log.Debug("sse: stream closed by server", "remote", wr.remote, "cause", cause)
	wr.cut = cause == transports.ReasonSlowConsumer
}

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

// batch drains the queue and writes it, with one flush. It reports whether
// the stream ended (an item with End).
func (wr *writer) batch() (end bool, err error) {
	wr.items = wr.sub.Drain(wr.items[:0])
	defer func() {
		clear(wr.items) // drop event references
		if cap(wr.items) > 256 {
			wr.items = nil // let a burst's buffer go; idle connections stay small
		}
	}()
	if len(wr.items) == 0 {
		return false, nil
	}
	wr.s.deadline(wr.rc)
	for _, it := range wr.items {
		var m gosse.Message
		if it.Event != nil {
			wr.cursors.Advance(it.Event)
			m.ID = gosse.ID(wr.stream.CursorID(wr.cursors))
			m.AppendData(wireString(it.Event.JSON()))
		} else {
			m.AppendData(string(it.Control))
		}
		if err := wr.sess.Send(&m); err != nil {
			return false, err
		}
		if it.End {
			end = true
			break
		}
	}
	return end, wr.flush()
}

// comment writes a heartbeat comment line.
func (wr *writer) comment() error {
	var m gosse.Message
	m.AppendComment(heartbeatComment)
	wr.s.deadline(wr.rc)
	if err := wr.sess.Send(&m); err != nil {
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

// wireString views an event's wire form as a string without copying it:
// the bytes are immutable once the event is published (Event.JSON), and
// every SSE connection writes the same shared bytes, as WebSocket does.
func wireString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
