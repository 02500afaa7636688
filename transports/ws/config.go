package ws

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// Defaults for Config's zero values: the values declared once in
// transports (defaults.go).
const (
	DefaultReadLimit    = transports.DefaultReadLimit
	DefaultHeartbeat    = transports.DefaultHeartbeat
	DefaultIdleTimeout  = transports.DefaultIdleTimeout
	DefaultWriteTimeout = transports.DefaultWriteTimeout
)

// Transport is the label of WebSocket connections in the hub
// (Hub.DropAll("ws"), Stats().Connections["ws"]).
const Transport = "ws"

// Config configures a Server. Only Hub is required.
type Config struct {
	// Hub is the hub connections attach to. Required.
	Hub *transports.Hub
	// Limiter caps connections in total and per client IP; nil means no
	// caps. A connection over a cap is upgraded and then closed with 1013
	// (a browser sees nothing of an HTTP 503). Share one Limiter between
	// transports to cap both together.
	Limiter *transports.Limiter
	// ReadLimit is the largest client frame accepted; a larger one closes
	// the connection with 1009. 0 means DefaultReadLimit (32 KiB); a
	// negative value disables the limit.
	ReadLimit int64
	// Heartbeat is how often the server sends a protocol ping and an
	// app-level {"type":"ping","ts":...} control frame. 0 means
	// DefaultHeartbeat (15s).
	Heartbeat time.Duration
	// IdleTimeout closes a connection from which nothing (no frame, no
	// pong) arrived for that long, with 4000. 0 means DefaultIdleTimeout
	// (45s). It should be a few heartbeats long.
	IdleTimeout time.Duration
	// WriteTimeout bounds every write. A write that takes longer closes the
	// connection. 0 means DefaultWriteTimeout (10s).
	WriteTimeout time.Duration
	// OriginPatterns are extra origins allowed to open cross-origin
	// connections (host patterns as in path.Match, e.g. "example.com" or
	// "*.example.com"; with "scheme://" they match scheme://host). The
	// request's own host is always allowed; other origins get 403.
	// CheckOrigin, when set, replaces this rule.
	OriginPatterns []string
	// CheckOrigin, when set, decides which upgrade requests may proceed,
	// in place of the same-host rule and OriginPatterns: a request for which
	// it returns false gets 403 with a JSON error body. The same-host rule
	// trusts the request's own Host header, which a DNS-rebinding page
	// controls (Host and Origin both its own); a server that knows its
	// names should check Origin against them instead. Nil: the same-host
	// rule.
	CheckOrigin func(r *http.Request) bool
	// CommandRate limits the commands (data frames, pongs included) of each
	// connection: over it a command is dropped and answered with a
	// rate_limited error frame; after as many refusals in a row as its
	// Burst, the connection closes with 4029 (transports.ReasonRateLimited).
	// The zero value: no limit.
	CommandRate transports.Rate
	// Detach makes the handlers return right after the upgrade; the
	// connection then runs on two goroutines of its own (writer and
	// reader). That frees net/http's per-request state and the handler's
	// grown stack: about 10 KB less per idle connection (25 KB instead of
	// 35 KB, measured with 5,000 idle connections). Shutdown waits for
	// detached connections too. Off by default, because middleware that
	// times or tracks requests (such as a server waiting for its task
	// streams at shutdown) expects a handler to last as long as its stream.
	Detach bool
	// Compression is the permessage-deflate mode offered to clients that
	// ask for it (coder/websocket's modes; see ParseCompression). The
	// default, CompressionDisabled, negotiates nothing and keeps the
	// writer's fast path: a batch's frames framed by the server itself and
	// written at once. On a connection that negotiated compression, batches
	// are written message by message through coder/websocket (which
	// compresses each message above its threshold: 128 bytes with context
	// takeover, 512 without), still gathered into one write per batch. The
	// read limit applies to a message's decompressed size.
	Compression websocket.CompressionMode
	// Logger receives debug records; nil is silent.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.ReadLimit < 0 {
		c.ReadLimit = -1
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
