package ws

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// Server is the WebSocket transport: ServeHTTP serves multi-topic
// connections with commands, Stream serves single-topic streams. It is a
// plain http.Handler, mountable on any router. All methods are safe for
// concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	epoch time.Time // monotonic base of liveness stamps
	bufs  sync.Pool // *[]byte read buffers, shared by all readers
	corks sync.Pool // *[]byte batch buffers, shared by all writers (corkConn)
	guard *transports.WriteGuard

	tracker *transports.Tracker // one per handler past the shutdown check
	mu      sync.Mutex
	conns   map[*conn]struct{} // attached connections
}

// New builds a Server. cfg.Hub is required: New panics without it.
func New(cfg Config) *Server {
	if cfg.Hub == nil {
		panic("ws: Config.Hub is required")
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, epoch: time.Now(), conns: map[*conn]struct{}{}, tracker: transports.NewTracker(), guard: transports.NewWriteGuard(cfg.WriteTimeout)}
	s.bufs.New = func() any {
		b := make([]byte, 0, 512)
		return &b
	}
	s.corks.New = func() any {
		b := make([]byte, 0, 4096)
		return &b
	}
	return s
}

// ServeHTTP serves a multi-topic connection:
//
//	GET /ws?client_id=alice&topic=news&last_event_id=broadcast=3,news=17
//
// A malformed request is answered with 400 and a JSON error body before
// the upgrade. The handler returns when the connection has ended (with
// Config.Detach, right after the upgrade).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st, ef := transports.ParseConnect(r)
	if ef != nil {
		writeError(w, http.StatusBadRequest, *ef)
		return
	}
	s.serve(w, r, st, false, nil)
}

// Stream returns a handler for single-topic streams such as
// GET /ws/tasks/:id, resolved by transports.ResolveSingle (the SSE
// transport's Stream takes the same resolver): a snapshot first (or, when
// resuming from the bare seq in the Last-Event-ID header or the
// last_event_id query parameter, every event after it), then the topic's
// events.
//
// Errors are reported after the upgrade, where a browser can see them: an
// error frame (code not_found, invalid_message, internal), then a close with
// the code the close reason table gives the error (transports.ReasonFor:
// 4004 for an error wrapping transports.ReasonNotFound, 4400 for a bad
// cursor, 1011 for an error without a reason). A stream that has already
// ended at the cursor closes with 1000 at once; otherwise it closes with
// 1000 after the terminal event.
func (s *Server) Stream(resolve transports.Resolver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := transports.ResolveSingle(r, resolve)
		s.serve(w, r, st, true, err)
	})
}

// Shutdown closes every connection of this server with 1001 (as
// Hub.Close does) and waits until their handlers have returned:
// http.Server.Shutdown does not wait for hijacked connections. Connections
// that arrive later are refused with 503. If ctx ends first, the remaining
// sockets are closed at once and Shutdown returns ctx.Err() after their
// handlers returned (within a few seconds: coder/websocket bounds its
// close handshake).
func (s *Server) Shutdown(ctx context.Context) error {
	s.tracker.Close()
	for _, c := range s.attached() {
		c.sub.Kick(transports.ReasonShutdown)
	}
	if s.tracker.Wait(ctx) == nil {
		return nil
	}
	for _, c := range s.attached() {
		_ = c.ws.CloseNow()
	}
	_ = s.tracker.Wait(context.Background())
	return ctx.Err()
}

// attached returns the attached connections.
func (s *Server) attached() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// track registers an attached connection, and kicks it when Shutdown
// already began (Shutdown closes the tracker before it looks at conns).
func (s *Server) track(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if s.tracker.Closing().Err() != nil {
		c.sub.Kick(transports.ReasonShutdown)
	}
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// now is the liveness clock: monotonic nanoseconds since the server began.
func (s *Server) now() int64 { return int64(time.Since(s.epoch)) }

// serve upgrades and runs one connection. fail, when set, is reported to
// the client after the upgrade (single-topic streams only).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, st transports.Stream, single bool, fail error) {
	if !s.allowOrigin(w, r) {
		return
	}
	if !s.tracker.Enter() {
		writeError(w, http.StatusServiceUnavailable, transports.NewErrorFrame(transports.CodeUnavailable, transports.ReasonShutdown.Text))
		return
	}
	release, limitErr := noRelease, error(nil)
	if fail == nil {
		if rel, err := s.cfg.Limiter.Acquire(transports.RemoteIP(r)); err != nil {
			limitErr = err
		} else {
			release = rel
		}
	}
	c := s.open(w, r, st, single, fail, limitErr)
	switch {
	case c == nil: // refused, or already closed
		release()
		s.tracker.Leave()
	case s.cfg.Detach:
		go s.live(c, release) // owner: the server; ends with the connection, and Shutdown waits for it (tracker)
	default:
		s.live(c, release)
	}
}

func noRelease() {}

// open upgrades and attaches a connection. It returns nil when the
// connection was refused or has already been closed (limits, resolver
// errors, ended streams).
func (s *Server) open(w http.ResponseWriter, r *http.Request, st transports.Stream, single bool, fail, limitErr error) *conn {
	c := &conn{s: s, clientID: st.ClientID, single: single}
	c.seen.Store(s.now())
	cw := &corkWriter{ResponseWriter: w, rc: http.NewResponseController(w), make: s.newCork}
	wsc, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		OriginPatterns:     s.cfg.OriginPatterns,
		InsecureSkipVerify: s.cfg.CheckOrigin != nil, // allowOrigin decided (origin.go)
		CompressionMode:    s.cfg.Compression,
		OnPingReceived:     c.onPing,
		OnPongReceived:     c.onPong,
	})
	if err != nil {
		// Accept has answered (403 for a foreign origin, 426 for a plain GET).
		s.log.Debug("upgrade refused", "remote", r.RemoteAddr, "err", err)
		return nil
	}
	c.ws, c.cork = wsc, cw.conn
	switch {
	case fail != nil:
		c.reject(fail)
		return nil
	case limitErr != nil:
		s.log.Debug("connection over the limit", "remote", r.RemoteAddr, "err", limitErr)
		c.refuseOverLimit(limitErr)
		return nil
	}
	wsc.SetReadLimit(s.cfg.ReadLimit)

	sub, start, err := s.cfg.Hub.Attach(Transport, st)
	if err != nil {
		c.attachFailed(err)
		return nil
	}
	c.sub = sub
	if !single {
		// Each URL topic that starts live gets its starting cursor, so a
		// client that drops before the first event still resumes exactly.
		for _, t := range st.AllTopics() {
			if _, resumed := st.Cursors[t]; !resumed {
				sub.Send(transports.ControlFrame{Type: transports.TypeSubscribed, Topic: t, Seq: start[t]}.JSON())
			}
		}
	}
	return c
}

// live runs an attached connection until it ends, then releases it.
func (s *Server) live(c *conn, release func()) {
	defer s.tracker.Leave()
	defer release()
	defer c.sub.Close(nil)
	s.track(c)
	defer s.untrack(c)
	c.run()
}

// reject reports a resolver error after the upgrade: an error frame (the
// error's own, or the reason's code with the error's text, or "internal
// error"), then a close with the code the table gives the error
// (transports.ReasonFor).
func (c *conn) reject(fail error) {
	reason := transports.ReasonFor(fail)
	var ef transports.ErrorFrame
	if !errors.As(fail, &ef) {
		ef = transports.NewErrorFrame(transports.CodeInternal, "internal error")
		if r := transports.ReasonOf(fail); r != nil {
			ef = transports.NewErrorFrame(r.Code, strings.TrimSuffix(fail.Error(), ": "+r.Error()))
		}
	}
	if transports.ReasonOf(fail) == nil {
		c.s.log.Debug("stream resolver failed", "err", fail)
	}
	c.sayAndClose(ef, reason)
}

// attachFailed closes a connection whose Attach failed with the code the
// table gives the error (transports.ReasonFor: 1000 for a stream that had
// already ended, 1001 for a closed hub); an internal error is said in an
// error frame first.
func (c *conn) attachFailed(err error) {
	reason := transports.ReasonFor(err)
	if reason != transports.ReasonInternal {
		c.closeWith(reason)
		return
	}
	c.s.log.Debug("attach failed", "err", err)
	c.sayAndClose(transports.NewErrorFrame(transports.CodeInternal, "internal error"), reason)
}

// sayAndClose writes an error frame, then closes with reason.
func (c *conn) sayAndClose(ef transports.ErrorFrame, reason *transports.CloseReason) {
	if c.writeFrame(ef.JSON()) != nil {
		_ = c.ws.CloseNow()
		return
	}
	c.closeWith(reason)
}

// newCork wraps a hijacked connection in the server's user-space cork.
func (s *Server) newCork(nc net.Conn) *corkConn {
	return &corkConn{Conn: nc, pool: &s.corks}
}

func writeError(w http.ResponseWriter, status int, ef transports.ErrorFrame) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(ef.JSON())
}
