package sse

import (
	"net/http"
	"time"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/twinstream/twinstream/transports"
)

// responseSink streams through the handler's ResponseWriter (go-sse's
// Session for the upgrade and flushes): every protocol, HTTP/2 included.
// The handler goroutine runs the stream, and net/http its framing.
type responseSink struct {
	s    *Server
	w    http.ResponseWriter
	sess *gosse.Session
	rc   *http.ResponseController
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
	setStreamHeaders(w.Header())
	// A server-wide http.Server.WriteTimeout set a deadline when the
	// request was read; it would cut the stream. Lift it: from here on the
	// WriteGuard bounds each write, and a stream has no deadline between
	// writes, because over HTTP/2 an expired one resets the stream even
	// when nothing is being written. (net/http already lifts the read
	// deadline while a handler runs.)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	return sess, rc
}

// setStreamHeaders sets the headers of every stream response, whichever
// writes it (go-sse's Session, or the detached sink).
func setStreamHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx-style proxies not to buffer
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
	m := &gosse.Message{Retry: s.retryFor()}
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

func (rs *responseSink) send(b []byte) error {
	if _, err := rs.w.Write(b[headroom:]); err != nil {
		return err
	}
	return rs.sess.Flush()
}

// end: net/http writes the final chunk after the handler returns; it gets
// a fresh deadline so that a clean end stays clean, except for a cut,
// whose final write fails at once, so net/http closes the connection
// rather than keep it alive behind megabytes of unread frames.
func (rs *responseSink) end(cut bool) {
	if cut {
		_ = rs.rc.SetWriteDeadline(time.Now())
		return
	}
	rs.s.deadline(rs.rc)
}

func (rs *responseSink) expire() { _ = rs.rc.SetWriteDeadline(time.Now()) }
