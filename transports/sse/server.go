package sse

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// Transport is the label of this transport's subscribers in the hub (see
// Hub.DropAll and Hub.Stats).
const Transport = "sse"

// Defaults for Config's zero values: the values declared once in
// transports (defaults.go).
const (
	DefaultHeartbeat    = transports.DefaultHeartbeat
	DefaultRetry        = transports.DefaultRetry
	DefaultWriteTimeout = transports.DefaultWriteTimeout
)

// Config configures a Server. Hub is required; every other field has a
// usable zero value.
type Config struct {
	// Hub is the hub connections attach to. Required.
	Hub *transports.Hub
	// Limiter caps connections in total and per client IP; nil allows all.
	// Share one limiter with the WebSocket transport to cap both together.
	Limiter *transports.Limiter
	// Heartbeat is how long a stream may stay silent before the server
	// writes a comment line (": ping"), which keeps proxies from closing it
	// and detects dead peers through a failed write. Default 15s.
	Heartbeat time.Duration
	// Retry is the reconnection delay sent to clients in the retry: field of
	// each response's first frame. Default 2s.
	Retry time.Duration
	// RetrySpread spreads Retry per response: each response announces a
	// retry: drawn uniformly from Retry × [1−RetrySpread, 1+RetrySpread], so
	// that the clients of a mass disconnect (a deploy, an admin drop) come
	// back spread out, even browsers, whose EventSource waits exactly
	// retry:. 0 (the default) announces Retry itself; at most 1.
	RetrySpread float64
	// WriteTimeout bounds the writing of each batch of frames (and of each
	// heartbeat); a client that does not take them in time is cut off (it
	// resumes on reconnect). Default 10s. Between writes a stream has no
	// deadline. It replaces any http.Server.WriteTimeout for the stream's
	// request: a server-wide write timeout would otherwise cut every stream
	// once it expired (over HTTP/2 even an idle one).
	WriteTimeout time.Duration
	// Detach serves HTTP/1.x streams off the handler: once a stream is
	// admitted, its connection is taken over from net/http (hijacked), the
	// response header is written, and the handler returns; the stream then
	// runs on two goroutines of its own (the connection loop and a reader
	// that notices the peer leaving), as a detached WebSocket does. The
	// bytes on the wire are the same (a chunked text/event-stream
	// response, one chunk per batch), but net/http's per-request buffers
	// (about 10 KB) and goroutines are freed. HTTP/2 streams cannot be
	// taken over and are served through the ResponseWriter as without
	// Detach. Off by default, because middleware that times or tracks
	// requests expects a handler to last as long as its stream.
	Detach bool
	// Gzip compresses streams for clients that send Accept-Encoding: gzip
	// (Content-Encoding: gzip, one gzip stream per response), with a sync
	// flush after every batch, so that no event waits in the compressor.
	// It costs memory per connection (compress/flate's state, about
	// 800 KB, for the stream's life). Off by default.
	Gzip bool
	// Logger receives debug records about streams; nil is silent.
	Logger *slog.Logger
}

// Server serves SSE streams from a Hub. Its handlers are safe for
// concurrent use. Each stream is served by its handler goroutine alone
// (with Detach, by a goroutine of its own and a reader), and buffers are
// taken from a pool only while there is something to write.
type Server struct {
	hub          *transports.Hub
	limiter      *transports.Limiter
	heartbeat    time.Duration
	retry        time.Duration
	retrySpread  float64
	writeTimeout time.Duration
	detached     bool
	gzip         bool
	log          *slog.Logger

	tracker *transports.Tracker // streams being served; closed by Shutdown
	bufs    sync.Pool           // *[]byte batch buffers, shared by all streams
	guard   *transports.WriteGuard
}

// New returns a Server. It panics if cfg.Hub is nil.
func New(cfg Config) *Server {
	if cfg.Hub == nil {
		panic("sse: Config.Hub is nil")
	}
	s := &Server{
		hub:          cfg.Hub,
		limiter:      cfg.Limiter,
		heartbeat:    cfg.Heartbeat,
		retry:        cfg.Retry,
		retrySpread:  min(max(cfg.RetrySpread, 0), 1),
		writeTimeout: cfg.WriteTimeout,
		detached:     cfg.Detach,
		gzip:         cfg.Gzip,
		log:          cfg.Logger,
	}
	s.tracker = transports.NewTracker()
	s.bufs.New = func() any {
		b := make([]byte, 0, 4096)
		return &b
	}
	if s.heartbeat <= 0 {
		s.heartbeat = DefaultHeartbeat
	}
	if s.retry <= 0 {
		s.retry = DefaultRetry
	}
	if s.writeTimeout <= 0 {
		s.writeTimeout = DefaultWriteTimeout
	}
	s.guard = transports.NewWriteGuard(s.writeTimeout)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// ServeHTTP serves a multi-topic stream:
//
//	GET /sse?client_id=alice&topic=news&topic=chat
//
// client_id is optional; with one, the stream also carries the client's
// personal topic (client:<id>) and the broadcast topic. The Last-Event-ID
// header, or a last_event_id query parameter on a first connect, resumes.
// A bad request gets 400 with a JSON error body.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if stream := connectStream(w, r); stream != nil {
		s.serve(w, r, stream)
	}
}

// Stream serves a single-topic stream that resolve picks from the request,
// such as GET /sse/tasks/:id, as transports.ResolveSingle resolves it (the
// WebSocket transport's Stream takes the same resolver): a snapshot of the
// topic's current state first (or, when resuming, every event after the
// Last-Event-ID, a bare seq), then its events, and the response ends after
// the terminal event. A reconnect after the end gets 204 No Content, so an
// EventSource stops. A resolver error is answered as the close reason table
// says for its reason (transports.ReasonFor): 404 for
// transports.ReasonNotFound, 400 for transports.ReasonBadRequest, 500 with
// "internal error" for an error without a reason, each with a JSON body.
func (s *Server) Stream(resolve transports.Resolver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowMethod(w, r) {
			return
		}
		stream, err := transports.ResolveSingle(r, resolve)
		if err != nil {
			s.fail(w, r, "resolving stream", err)
			return
		}
		s.serve(w, r, &stream)
	})
}

// serve runs one stream. The functions that parse, check and attach return
// before the stream's long wait, so that an idle stream's goroutine keeps a
// small stack. With Config.Detach an HTTP/1.x stream runs on goroutines of
// its own and the handler returns at once.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, stream *transports.Stream) {
	wr := s.open(w, r, stream)
	if wr == nil {
		return
	}
	if ds, ok := wr.sink.(*detachedSink); ok {
		gone := make(chan struct{})
		go ds.watch(gone, wr.sub)             // owner: the stream's loop, which closes the connection and waits for gone
		go s.run(wr, gone, func() { <-gone }) // owner: the server (Shutdown waits for it through enter/leave)
		return
	}
	// The loop waits on the subscriber alone: the end of the request
	// wakes it.
	stopGone := context.AfterFunc(r.Context(), wr.sub.Wake)
	defer stopGone()
	s.run(wr, r.Context().Done(), func() {})
}

// run is a stream's connection loop; after it, wait (the detached reader)
// and the stream's release.
func (s *Server) run(wr *writer, gone <-chan struct{}, wait func()) {
	defer wr.close()
	defer wait()
	stopClosing := context.AfterFunc(s.tracker.Closing(), wr.sub.Wake)
	defer stopClosing()
	transports.Serve(wr.sub, wr, transports.LoopConfig{
		Heartbeat: s.heartbeat,
		Gone:      gone,
		Closing:   s.tracker.Closing().Done(),
	})
}

// connectStream reads a multi-topic connect request, or answers it with an
// error and returns nil.
func connectStream(w http.ResponseWriter, r *http.Request) *transports.Stream {
	if !allowMethod(w, r) {
		return nil
	}
	stream, ferr := transports.ParseConnect(r)
	if ferr != nil {
		writeError(w, http.StatusBadRequest, *ferr)
		return nil
	}
	if len(stream.AllTopics()) == 0 {
		// Unlike a WebSocket, an SSE stream cannot subscribe later.
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "bad connect request")
		f.Fields = map[string]string{"topic": "required unless client_id is given"}
		writeError(w, http.StatusBadRequest, f)
		return nil
	}
	return &stream
}

// fail answers a stream request that failed before its stream started
// (resolving or attaching it, doing what) because of err, as the close
// reason table says for err's reason (transports.ReasonFor). The error
// frame is err's own when it carries one (a bad cursor's, naming
// last_event_id), or the reason's code with err's text; a reason that
// refuses no request (SSEStatus 0) is answered as ReasonInternal, whose
// details are logged, not sent.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, doing string, err error) {
	reason := transports.ReasonFor(err)
	var f transports.ErrorFrame
	switch {
	case reason.SSEStatus == 0 || reason == transports.ReasonInternal:
		s.log.Error("sse: "+doing, "err", err)
		reason, f = transports.ReasonInternal, transports.NewErrorFrame(transports.CodeInternal, "internal error")
	case reason == transports.ReasonShutdown:
		f = shutdownFrame()
	case errors.As(err, &f):
	default:
		f = transports.NewErrorFrame(reason.Code, err.Error())
	}
	s.answer(w, r, reason, f)
}

// answer answers a stream request that reason refuses before its stream
// starts, as the close reason table says (CloseReason.SSEStatus): 204 with
// no body, 200 with retry: and f as an error frame (so that EventSource
// retries later), or the status with f as a JSON body.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, reason *transports.CloseReason, f transports.ErrorFrame) {
	switch reason.SSEStatus {
	case http.StatusNoContent:
		w.WriteHeader(http.StatusNoContent)
	case http.StatusOK:
		s.refuse(w, r, f.Code, f.Message)
	default:
		writeError(w, reason.SSEStatus, f)
	}
}

// shutdownFrame is the error frame of a request refused while the server
// shuts down.
func shutdownFrame() transports.ErrorFrame {
	return transports.NewErrorFrame(transports.CodeUnavailable, "server shutting down, try again later")
}

// open admits a stream (shutdown, limits), attaches it to the hub and
// writes its first frame. It returns nil when it answered the request
// otherwise (refusal, 204, error).
func (s *Server) open(w http.ResponseWriter, r *http.Request, stream *transports.Stream) *writer {
	if !s.tracker.Enter() {
		s.answer(w, r, transports.ReasonShutdown, shutdownFrame())
		return nil
	}
	release, err := s.limiter.Acquire(transports.RemoteIP(r))
	if err != nil {
		s.tracker.Leave()
		s.log.Debug("sse: connection refused", "remote", r.RemoteAddr, "err", err)
		reason := transports.ReasonFor(err)
		s.answer(w, r, reason, transports.NewErrorFrame(reason.Code, reason.Text))
		return nil
	}
	sub, cursors, err := s.hub.Attach(Transport, *stream)
	if err != nil {
		release()
		s.tracker.Leave()
		// ErrEnded: the stream finished and the client has seen its end;
		// the table's 204 makes EventSource stop reconnecting.
		s.fail(w, r, "attaching stream", err)
		return nil
	}
	wr := &writer{s: s, sub: sub, stream: stream, cursors: cursors, release: release, remote: r.RemoteAddr}
	gz := gzipResponse(s.gzip, w, r) // (gzip.go)
	if s.canDetach(r) {
		if ds := s.detach(w); ds != nil {
			wr.sink = ds
		}
	} else if sess, rc := s.upgrade(w, r); sess != nil {
		wr.sink = &responseSink{s: s, w: w, sess: sess, rc: rc}
	}
	if wr.sink != nil && gz {
		wr.sink = &gzipSink{inner: wr.sink}
	}
	if wr.sink == nil {
		wr.close()
		return nil
	}
	wr.clock = s.guard.Watch(wr.expire)
	if err := wr.hello(); err != nil {
		s.log.Debug("sse: write failed", "remote", r.RemoteAddr, "err", err)
		wr.sink.end(true)
		wr.close()
		return nil
	}
	return wr
}

// Shutdown stops accepting streams, ends the active ones and waits until
// their handlers have returned, or until ctx is done. Call Hub.Close first
// so that the hub refuses new subscribers; call http.Server.Shutdown after.
// Clients reconnect (with Last-Event-ID) to whatever serves next.
func (s *Server) Shutdown(ctx context.Context) error {
	s.tracker.Close()
	return s.tracker.Wait(ctx)
}

func allowMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	writeError(w, http.StatusMethodNotAllowed, transports.NewErrorFrame(transports.CodeInvalidMessage, "method not allowed: use GET"))
	return false
}

// writeError sends a JSON error body.
func writeError(w http.ResponseWriter, status int, f transports.ErrorFrame) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(f.JSON(), '\n'))
}
