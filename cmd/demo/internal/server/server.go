// Package server is the twinstream demo server: an Echo application that
// mounts the WebSocket and SSE transports (plain http.Handlers) next to the
// task, messaging, publishing, admin and metrics APIs, all sharing one hub.
//
// # Routes
//
//	POST /api/tasks                   {"files":N,"step_ms":M,"fail_at":K} → 201 task
//	GET  /api/tasks                   ?status=&limit= → {"tasks":[...]} newest first
//	GET  /api/tasks/:id               task (404 JSON when unknown)
//	GET  /ws/tasks/:id                task stream over WebSocket (snapshot, events, terminal, close 1000)
//	GET  /sse/tasks/:id               the same over SSE (404 JSON unknown; 204 finished and seen)
//	GET  /ws                          ?client_id=&topic=... multi-topic WebSocket with JSON commands
//	GET  /sse                         ?client_id=&topic=&topic=... multi-topic SSE
//	POST /api/messages                ?client_id=carol, body = a broadcast/personal/broadcast_except command → 202 ack
//	POST /api/topics/:topic/events    {"event":"...","data":{...}} → 201 {"topic","seq","ts","event","queued"}
//	POST /api/admin/drop              ?transport=ws|sse|all → {"dropped":N} (see Config.AdminToken)
//	GET  /healthz                     {"status":"ok"} (503 {"status":"shutting_down"} while stopping)
//	GET  /metrics                     Prometheus text format (prometheus.go)
//	GET  /api/stats                   JSON: connections, hub and task counters, goroutines, RSS, CPU (what the load generator reads)
//	GET  /                            the browser demo page
//
// Every error is a JSON ErrorFrame ({"type":"error","code":...,"message":...,
// "fields":{...}}), including unknown routes (404) and wrong methods (405).
//
// # Shutdown
//
// Server.Shutdown stops accepting connections, fails every queued and
// running task with a published terminal event (task streams deliver it and
// end with WebSocket close 1000 / the end of the SSE response), then closes
// the hub, which ends every other stream (WebSocket close 1001, SSE response
// end), waits for the transports' connections and for in-flight requests.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/redisbroker"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

// taskStreamGrace bounds how long Shutdown lets task streams deliver their
// final "failed" event before the hub closes every stream (at most half of
// the time Shutdown's context leaves). Healthy streams need milliseconds;
// only a client that stopped reading uses it up.
const taskStreamGrace = 5 * time.Second

// Server is the demo server. Build it with New, then Start it (or use Run).
// Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	hub      *transports.Hub
	broker   *redisbroker.Broker // the hub's with --redis, else nil (redis.go)
	limiter  *transports.Limiter
	runner   tasks.Executor // in process (tasks.Runner) or on Redis (tasks.Queue): tasks.go
	store    tasks.Store
	prom     *promMetrics // GET /metrics (prometheus.go)
	ws       *ws.Server   // GET /ws: detached connections (smaller per idle connection)
	wsTasks  *ws.Server   // GET /ws/tasks/:id: handlers live as long as the stream (shutdown waits for them)
	sse      *sse.Server  // GET /sse: detached, like /ws
	sseTasks *sse.Server  // GET /sse/tasks/:id: handlers live as long as the stream
	echo     *echo.Echo
	started  time.Time

	restoreMu   sync.Mutex          // serializes re-publishing swept task topics
	taskStreams *transports.Tracker // open /ws/tasks/:id and /sse/tasks/:id streams
	draining    atomic.Bool

	guards // rate limits, origins and identity (guard.go)

	mu        sync.Mutex // guards the fields below
	http      *http.Server
	ln        net.Listener
	adminOpen bool          // admin endpoint enabled without a token (loopback listener)
	serveDone chan struct{} // closed when Serve returned
	serveErr  error

	shutdownOnce sync.Once
	shutdownErr  error
}

// New builds a server from cfg (zero fields take their defaults). It starts
// the task workers but listens nowhere until Start; call Shutdown to stop
// the workers in any case.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger, started: time.Now(), taskStreams: transports.NewTracker()}
	if err := s.initBroker(); err != nil { // redis.go: none without --redis
		return nil, err
	}
	s.prom = newPromMetrics(s)
	s.hub = transports.NewHub(transports.HubConfig{
		History: cfg.History, QueueSize: cfg.QueueSize, QueueBytes: cfg.QueueBytes,
		HistoryBytes: cfg.HistoryBytes, TopicTTL: cfg.TopicTTL, MaxTopics: cfg.MaxTopicsPerConn,
		Terminal: taskstream.IsTerminal, // a task's stream ends with its completed or failed event
		Presence: chat.Presence,         // join and leave events on broadcast
		Broker:   s.hubBroker(),         // Redis with --redis, else nil: the in-memory hub
		Written:  s.prom.written,        // deliveries and their lag, for /metrics
		Logger:   cfg.Logger.With("component", "hub"),
	})
	s.limiter = transports.NewLimiter(cfg.MaxConns, cfg.MaxConnsPerIP)
	if err := s.initGuards(); err != nil {
		return nil, err
	}
	if err := s.initTasks(); err != nil {
		return nil, err
	}
	wsCompression, _ := ws.ParseCompression(cfg.WSCompression) // checked by Validate
	wsCfg := ws.Config{
		Hub: s.hub, Limiter: s.limiter, ReadLimit: cfg.ReadLimit, Heartbeat: cfg.Heartbeat,
		IdleTimeout: cfg.IdleTimeout, WriteTimeout: cfg.WriteTimeout, OriginPatterns: cfg.AllowOrigins,
		Compression: wsCompression, Logger: cfg.Logger.With("component", "ws"),
		CheckOrigin: s.wsOrigin, CommandRate: cfg.CommandRate, // origin.go, hardening.go
	}
	// Task streams keep their handler for the stream's life, so that
	// graceful shutdown can wait for them to deliver the terminal event;
	// every other connection, of either transport, is detached from its
	// handler once admitted, which frees net/http's request state and the
	// handler's stack (about 10 KB less per idle connection).
	s.wsTasks = ws.New(wsCfg)
	wsCfg.Detach = true
	s.ws = ws.New(wsCfg)
	sseCfg := sse.Config{
		Hub: s.hub, Limiter: s.limiter, Heartbeat: cfg.Heartbeat, Retry: cfg.SSERetry, RetrySpread: cfg.SSERetrySpread,
		WriteTimeout: cfg.WriteTimeout, Gzip: cfg.SSEGzip, Logger: cfg.Logger.With("component", "sse"),
	}
	s.sseTasks = sse.New(sseCfg)
	sseCfg.Detach = true
	s.sse = sse.New(sseCfg)
	s.echo = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler (the Echo application).
func (s *Server) Handler() http.Handler { return s.echo }

// Hub returns the server's hub.
func (s *Server) Hub() *transports.Hub { return s.hub }

// Runner returns the server's task executor.
func (s *Server) Runner() tasks.Executor { return s.runner }

// Start listens on Config.Addr and serves in the background.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Addr, err)
	}
	var tlsCfg *tls.Config
	if s.cfg.tlsEnabled() {
		host, _, _ := net.SplitHostPort(s.cfg.Addr)
		if tlsCfg, err = s.cfg.tlsConfig(host); err != nil {
			ln.Close()
			return err
		}
	}
	hs := &http.Server{
		Handler:           s.echo,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		// No WriteTimeout: streams are long-lived responses and set a
		// deadline per write (see Config.HTTPWriteTimeout).
		WriteTimeout:   s.cfg.HTTPWriteTimeout,
		IdleTimeout:    s.cfg.HTTPIdleTimeout,
		MaxHeaderBytes: 64 << 10,
		// Accept errors (EMFILE) and handler misuse are worth seeing.
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.http != nil || s.draining.Load() {
		s.mu.Unlock()
		ln.Close()
		return errors.New("server: already started or shut down")
	}
	s.http, s.ln = hs, ln
	names := listenNames(ln.Addr()) // the origins a browser may come from (origin.go)
	s.names.Store(&names)
	s.adminOpen = s.cfg.AdminToken == "" && isLoopback(ln.Addr())
	s.serveDone = make(chan struct{})
	s.mu.Unlock()
	go func() { // owner: the server; ends when shutdown closes the listener, and shutdown waits for serveDone
		defer close(s.serveDone)
		serve := hs.Serve
		if tlsCfg != nil {
			serve = func(ln net.Listener) error { return hs.ServeTLS(ln, "", "") } // HTTP/2 by ALPN
		}
		if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.serveErr = err
			s.mu.Unlock()
			s.log.Error("serve failed", "err", err)
		}
	}()
	s.log.Info("listening", "url", s.URL(), "admin", s.adminMode(), "role", s.cfg.roleText())
	return nil
}

// Addr returns the listening address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// URL returns "http://host:port" of the listener, "https://…" with TLS
// ("" before Start).
func (s *Server) URL() string {
	a := s.Addr()
	if a == nil {
		return ""
	}
	if s.cfg.tlsEnabled() {
		return "https://" + a.String()
	}
	return "http://" + a.String()
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Shutdown stops the server gracefully (see the package doc), within ctx.
// When ctx ends first, remaining connections are closed forcibly and ctx's
// error is returned. It is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	hs, serveDone := s.http, s.serveDone
	s.mu.Unlock()
	s.log.Info("shutting down")

	// 1. Stop accepting: Shutdown closes the listeners at once, then waits
	// for in-flight requests (SSE streams end when the hub closes below).
	httpDone := make(chan error, 1)
	if hs != nil {
		go func() { httpDone <- hs.Shutdown(ctx) }() // owner: shutdown, which waits for httpDone below (ctx bounds it)
	} else {
		httpDone <- nil
	}
	// 2. Fail every queued and running task, publishing its terminal event.
	var errs []error
	if err := s.runner.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("tasks: %w", err))
	}
	// 3. Let task streams deliver that event and end on their own (with
	// Redis the tasks go on elsewhere: their streams are kicked and resume
	// on another node).
	if s.tasksEndOnShutdown() {
		graceFor := taskStreamGrace
		if dl, ok := ctx.Deadline(); ok {
			graceFor = min(graceFor, time.Until(dl)/2)
		}
		grace, cancel := context.WithTimeout(ctx, graceFor)
		_ = s.taskStreams.Wait(grace) // past the grace, step 4 kicks what is left
		cancel()
	}
	// 4. Kick every other stream (WS 1001, SSE response ends).
	s.hub.Close()
	if err := s.closeBroker(); err != nil { // redis.go
		errs = append(errs, err)
	}
	// 5. Wait for the transports' connections (hijacked WebSockets are not
	// tracked by http.Server) and for the HTTP server.
	if err := s.ws.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("ws: %w", err))
	}
	if err := s.wsTasks.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("ws tasks: %w", err))
	}
	if err := s.sse.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sse: %w", err))
	}
	if err := s.sseTasks.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sse tasks: %w", err))
	}
	if err := <-httpDone; err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
		hs.Close()
	}
	if serveDone != nil {
		<-serveDone
	}
	s.mu.Lock()
	if s.serveErr != nil {
		errs = append(errs, s.serveErr)
	}
	s.mu.Unlock()
	err := errors.Join(errs...)
	if err != nil {
		s.log.Warn("shutdown incomplete", "err", err)
	} else {
		s.log.Info("stopped")
	}
	return err
}

// Run starts a server for cfg (and its pprof listener when
// Config.PprofAddr is set), prints
//
//	twinstream demo listening on http://127.0.0.1:8080
//
// (one line, the stable contract for programs that spawn the demo and must
// learn its port) to stdout, serves until ctx is done, then shuts down
// within Config.ShutdownTimeout and closes the pprof listener.
func Run(ctx context.Context, cfg Config, stdout io.Writer) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		_ = s.Shutdown(context.Background())
		return err
	}
	stopPprof, err := s.servePprof() // off unless Config.PprofAddr
	if err != nil {
		_ = s.Shutdown(context.Background())
		return err
	}
	defer stopPprof()
	if _, err := fmt.Fprintf(stdout, "%s%s\n", ListenBanner, s.URL()); err != nil {
		s.log.Warn("printing the listening URL", "err", err)
	}
	s.mu.Lock()
	serveDone := s.serveDone
	s.mu.Unlock()
	select {
	case <-ctx.Done():
	case <-serveDone:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// ListenBanner prefixes the line Run prints once listening; the URL follows.
const ListenBanner = "twinstream demo listening on "
