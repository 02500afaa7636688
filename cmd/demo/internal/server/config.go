package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

// Defaults of Config (and of the demo's flags). Those of the hub and the
// transports are transports' own (transports/defaults.go), not restated.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultHistory         = transports.DefaultHistory
	DefaultQueueSize       = transports.DefaultQueueSize
	DefaultQueueBytes      = transports.DefaultQueueBytes
	DefaultHistoryBytes    = transports.DefaultHistoryBytes
	DefaultTopicTTL        = transports.DefaultTopicTTL
	DefaultMaxTopics       = transports.DefaultMaxTopics
	DefaultHeartbeat       = transports.DefaultHeartbeat
	DefaultIdleTimeout     = transports.DefaultIdleTimeout
	DefaultWriteTimeout    = transports.DefaultWriteTimeout
	DefaultSSERetry        = transports.DefaultRetry
	DefaultSSERetrySpread  = 0.5
	DefaultReadLimit       = transports.DefaultReadLimit
	DefaultMaxBody         = 64 << 10
	DefaultShutdownTimeout = 10 * time.Second
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultWorkers         = 8
	DefaultTaskQueue       = 1000

	// DefaultMaxConns is the --max-conns default: the open-files hard limit
	// of our target hosts (20,000) minus a reserve of 500 descriptors for
	// listeners, API requests, logs and /proc reads, so that the limiter
	// refuses a connection cleanly before accept(2) fails with EMFILE.
	// Go raises the soft RLIMIT_NOFILE to the hard limit at start-up.
	DefaultMaxConns = 19500
)

// Config configures a Server. The zero value is usable: every zero field
// takes the documented default, except MaxConns and MaxConnsPerIP (0 means no
// cap; the --max-conns flag defaults to DefaultMaxConns) and the optional
// AllowOrigins, AdminToken, HTTPWriteTimeout and Logger.
type Config struct {
	// Addr is the TCP listen address. Default "127.0.0.1:8080"; port 0
	// picks a free port (see Server.URL).
	Addr string
	// History is how many events each topic keeps for resume. 0 means
	// DefaultHistory (1,000); a negative value keeps none (task snapshots
	// still work: the latest event is always kept).
	History int
	// QueueSize bounds each connection's queue of undelivered items; a
	// connection whose queue fills is closed as a slow consumer. Default 4,096.
	QueueSize int
	// QueueBytes bounds each connection's bytes in flight (its queue plus
	// what the kernel has not sent); past it the connection is closed as a
	// slow consumer. Default 1 MiB (transports.HubConfig.QueueBytes).
	QueueBytes int
	// HistoryBytes bounds all topics' history together (the longest-idle
	// topics without subscribers go first); each topic's is bounded to
	// transports.DefaultTopicHistoryBytes too. Default 512 MiB.
	HistoryBytes int64
	// TopicTTL is how long a topic without subscribers keeps its history.
	// Default 10m.
	TopicTTL time.Duration
	// MaxTopicsPerConn caps the topics one connection follows (a WebSocket
	// subscribe past it gets a too_many_topics error frame). Default 128.
	MaxTopicsPerConn int
	// Heartbeat is the interval of WebSocket pings and SSE comment lines.
	// Default 15s.
	Heartbeat time.Duration
	// IdleTimeout closes a WebSocket peer silent for that long. Default 45s.
	IdleTimeout time.Duration
	// WriteTimeout is the deadline of every write to a stream. Default 10s.
	WriteTimeout time.Duration
	// SSERetry is the retry: field sent to SSE clients. Default 2s.
	SSERetry time.Duration
	// SSERetrySpread spreads each response's retry: uniformly within
	// SSERetry × [1−spread, 1+spread] (sse.Config.RetrySpread), so a mass
	// disconnect comes back spread out. 0 announces SSERetry itself; the
	// --sse-retry-spread flag defaults to 0.5.
	SSERetrySpread float64
	// ReadLimit is the largest WebSocket message accepted (over it: close
	// 1009). Default 32 KiB.
	ReadLimit int64
	// MaxConns caps open stream connections across both transports
	// (0 = no cap).
	MaxConns int
	// MaxConnsPerIP caps open stream connections per client IP across both
	// transports (0 = no cap).
	MaxConnsPerIP int
	// AllowOrigins are extra Origin patterns (path.Match syntax on the host,
	// as coder/websocket's OriginPatterns) allowed to open WebSockets; the
	// server's own host is always allowed.
	AllowOrigins []string
	// AdminToken, when set, enables POST /api/admin/drop for requests with
	// "Authorization: Bearer <token>" on any listen address. When empty,
	// the endpoint is enabled only if the server listens on a loopback
	// address.
	AdminToken string
	// Workers is the task worker pool size. Default 8.
	Workers int
	// TaskQueue bounds tasks waiting for a worker; a full queue answers 503.
	// Default 1,000.
	TaskQueue int
	// MaxBody bounds POST bodies (over it: 413). Default 64 KiB.
	MaxBody int64
	// ShutdownTimeout bounds Run's graceful shutdown. Default 10s.
	ShutdownTimeout time.Duration
	// HTTPWriteTimeout sets http.Server.WriteTimeout. Leave it 0: streams
	// are long-lived responses and set their own per-write deadlines. It
	// exists so tests can prove that a server-wide timeout does not cut
	// streams.
	HTTPWriteTimeout time.Duration
	// PprofAddr, when set, serves net/http/pprof (/debug/pprof/…) on a
	// listener of its own at this host:port (port 0 picks a free one; the
	// log says which), never on Addr. Run starts it and closes it on
	// shutdown. Default "": off. A profile endpoint shows the process's
	// insides: keep it on a loopback address.
	PprofAddr string
	// TLSCert and TLSKey, PEM files, make the server serve HTTPS (HTTP/2
	// and HTTP/1.1 by ALPN; WebSockets upgrade on HTTP/1.1). TLSSelfSigned
	// serves HTTPS with a throwaway self-signed certificate made at start
	// (for local runs). Default: plain HTTP/1.1.
	TLSCert, TLSKey string
	TLSSelfSigned   bool
	// WSCompression is the WebSocket permessage-deflate mode offered:
	// "disabled" (default, ""), "context-takeover" or
	// "no-context-takeover" (coder/websocket's modes).
	WSCompression string
	// Redis lists the Redis instances (redis://[user:pass@]host:port/db,
	// rediss:// for TLS) that make this server one node of several: the
	// streams' topics (seq, history, epochs and pub/sub) are spread over all
	// of them by a consistent hash of the topic name; the task queue and
	// store live on the first. Default none: the in-memory hub, one node.
	Redis []string
	// Role is what this node does (--role): RoleAll (default: streams, API
	// and task workers), RoleEdge (streams and API; tasks enqueued in Redis
	// for workers elsewhere) or RoleWorker (task workers only, plus /healthz
	// and /metrics). Edge and worker need Redis.
	Role string
	// SSEGzip gzips SSE streams for clients that accept it, flushed per
	// batch (about 800 KB of compressor state per stream). Default off.
	SSEGzip bool
	// Hardening holds the rate limits, the authentication secret and the
	// HTTP timeouts (hardening.go). Its zero value limits no rate and
	// authenticates nobody.
	Hardening
	// Logger receives the server's records; nil is silent.
	Logger *slog.Logger
}

// withDefaults returns c with zero fields defaulted.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.HistoryBytes == 0 {
		c.HistoryBytes = DefaultHistoryBytes
	}
	if c.TopicTTL == 0 {
		c.TopicTTL = DefaultTopicTTL
	}
	if c.MaxTopicsPerConn == 0 {
		c.MaxTopicsPerConn = DefaultMaxTopics
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	def(&c.Heartbeat, DefaultHeartbeat)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.SSERetry, DefaultSSERetry)
	def(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.TaskQueue == 0 {
		c.TaskQueue = DefaultTaskQueue
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Hardening = c.Hardening.withDefaults()
	return c
}

// Validate reports every out-of-range field (after defaults), naming the
// flag that sets it.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(flag, format string, a ...any) {
		errs = append(errs, fmt.Errorf("--%s: "+format, append([]any{flag}, a...)...))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		bad("addr", "%q is not host:port: %v", c.Addr, err)
	} else if port == "" {
		bad("addr", "%q has no port", c.Addr)
	}
	if c.PprofAddr != "" {
		if _, _, err := net.SplitHostPort(c.PprofAddr); err != nil {
			bad("pprof", "%q is not host:port: %v", c.PprofAddr, err)
		}
	}
	if c.QueueSize < 1 {
		bad("queue-size", "must be at least 1")
	}
	durs := []struct {
		flag string
		v    time.Duration
	}{
		{"heartbeat", c.Heartbeat}, {"idle-timeout", c.IdleTimeout}, {"write-timeout", c.WriteTimeout},
		{"sse-retry", c.SSERetry}, {"shutdown-timeout", c.ShutdownTimeout},
	}
	for _, d := range durs {
		if d.v < 0 {
			bad(d.flag, "must be positive, got %v", d.v)
		}
	}
	if c.IdleTimeout > 0 && c.Heartbeat > 0 && c.IdleTimeout <= c.Heartbeat {
		bad("idle-timeout", "%v must be longer than --heartbeat %v (a peer answers pings)", c.IdleTimeout, c.Heartbeat)
	}
	if c.HTTPWriteTimeout < 0 {
		bad("http-write-timeout", "must not be negative")
	}
	if c.ReadLimit < 1 {
		bad("read-limit", "must be at least 1 byte")
	}
	if c.MaxConns < 0 {
		bad("max-conns", "must be >= 0 (0 = no cap)")
	}
	if c.MaxConnsPerIP < 0 {
		bad("max-conns-per-ip", "must be >= 0 (0 = no cap)")
	}
	if c.Workers < 1 || c.Workers > 10000 {
		bad("workers", "must be between 1 and 10000")
	}
	if c.TaskQueue < 1 || c.TaskQueue > 1000000 {
		bad("task-queue", "must be between 1 and 1000000")
	}
	if c.MaxBody < 1 {
		bad("max-body", "must be at least 1 byte")
	}
	c.validateTLS(bad)
	c.validateRedis(bad) // redis.go
	c.validateRole(bad)  // roles.go
	c.Hardening.validate(bad)
	if _, err := ws.ParseCompression(c.WSCompression); err != nil {
		bad("ws-compression", "%v", err)
	}
	for _, o := range c.AllowOrigins {
		if _, err := path.Match(o, ""); o == "" || err != nil {
			bad("allow-origin", "%q is not a valid origin pattern (path.Match syntax)", o)
		}
	}
	return errors.Join(errs...)
}
