package server

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// AdminTokenEnv names the environment variable read when --admin-token is
// not given (so the token need not appear in the process list).
const AdminTokenEnv = "TWINSTREAM_ADMIN_TOKEN"

// ParseFlags parses the demo's command line into a Config and a log level.
// The flag names are a public interface (scripts use them):
//
//	--addr              listen address (default 127.0.0.1:8080; port 0 = any free port)
//	--history           events kept per topic for resume (default 1000; 0 = none)
//	--heartbeat         WS ping / SSE comment interval (default 15s)
//	--idle-timeout      close a silent WebSocket peer after this (default 45s)
//	--write-timeout     deadline of each write to a stream (default 10s)
//	--max-conns         open stream connections, both transports together (default 19500; 0 = no cap)
//	--max-conns-per-ip  open stream connections per client IP (default 0 = no cap)
//	--allow-origin      extra allowed WebSocket Origin host pattern; comma-separated and/or repeated
//	--admin-token       bearer token enabling POST /api/admin/drop on any address (or $TWINSTREAM_ADMIN_TOKEN)
//	--sse-retry         SSE retry: field (default 2s)
//	--read-limit        largest WebSocket message in bytes (default 32768)
//	--queue-size        per-connection queue of undelivered items (default 4096)
//	--queue-bytes       per-connection bytes in flight, queue plus unsent socket bytes (default 1 MiB)
//	--workers           task worker pool size (default 8)
//	--task-queue        tasks waiting for a worker before 503 (default 1000)
//	--max-body          largest POST body in bytes (default 65536)
//	--shutdown-timeout  graceful shutdown deadline (default 10s)
//	--log-level         debug, info, warn or error (default info)
//	--pprof             serve net/http/pprof on this separate address, e.g. 127.0.0.1:6060 (default off)
//	--tls-cert, --tls-key  PEM certificate and key: serve HTTPS with HTTP/2 (WebSockets stay on HTTP/1.1)
//	--tls-self-signed   serve HTTPS with a throwaway self-signed certificate (local runs)
//	--ws-compression    WebSocket permessage-deflate: disabled (default), context-takeover, no-context-takeover
//	--redis             a Redis URL, redis://[user:pass@]host:port/db (rediss:// for TLS); repeat for shards (default none: in-memory)
//	--role              all (default: streams, API, task workers), edge (streams and API) or worker (task workers, /healthz, /metrics); edge and worker need --redis
//	--sse-gzip          gzip SSE streams for clients that accept it, flushed per batch (default off)
//	--cmd-rate, --cmd-burst          WebSocket commands per second per connection (default 100, burst 200; 0 = no limit)
//	--publish-rate, --publish-burst  API publishes per second per client IP (default 1000, burst 1000; 0 = no limit)
//	--conn-rate, --conn-burst        new stream connections per second per client IP (default 1000, burst 5000; 0 = no limit)
//	--auth-secret       HS256 secret turning on signed tokens (or $TWINSTREAM_AUTH_SECRET; default: no authentication)
//	--header-timeout    deadline for a request's header (default 10s)
//	--body-timeout      deadline for a POST body (default 10s)
//	--http-idle-timeout close a keep-alive HTTP connection idle this long (default 60s)
//
// It returns flag.ErrHelp for -h/--help (usage already printed to out) and a
// descriptive error for anything invalid (usage not printed); the caller
// exits 0 and 2 respectively.
func ParseFlags(args []string, out io.Writer) (Config, slog.Level, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		c       Config
		history int
		origins originList
		level   = slog.LevelInfo
	)
	fs.StringVar(&c.Addr, "addr", DefaultAddr, "listen `address` (host:port; port 0 picks a free port)")
	fs.IntVar(&history, "history", DefaultHistory, "events kept per topic for resume (0 = none)")
	fs.DurationVar(&c.Heartbeat, "heartbeat", DefaultHeartbeat, "WebSocket ping and SSE comment interval")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", DefaultIdleTimeout, "close a WebSocket peer silent for this long")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", DefaultWriteTimeout, "deadline of each write to a stream")
	fs.IntVar(&c.MaxConns, "max-conns", DefaultMaxConns, "max open stream connections, WS and SSE together (0 = no cap)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 0, "max open stream connections per client IP (0 = no cap)")
	fs.Var(&origins, "allow-origin", "extra allowed WebSocket Origin host `pattern`s, comma-separated; repeatable")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer `token` enabling POST /api/admin/drop on any address (default $"+AdminTokenEnv+")")
	fs.DurationVar(&c.SSERetry, "sse-retry", DefaultSSERetry, "SSE retry: field sent to clients")
	fs.Float64Var(&c.SSERetrySpread, "sse-retry-spread", DefaultSSERetrySpread, "spread each response's retry: uniformly within retry × [1−f, 1+f] (0: exact)")
	fs.Int64Var(&c.ReadLimit, "read-limit", DefaultReadLimit, "largest WebSocket message in `bytes` (over it: close 1009)")
	fs.IntVar(&c.QueueSize, "queue-size", DefaultQueueSize, "per-connection queue of undelivered items (full: slow consumer)")
	fs.IntVar(&c.QueueBytes, "queue-bytes", DefaultQueueBytes, "per-connection `bytes` in flight, queue plus unsent socket bytes (past it: slow consumer)")
	fs.Int64Var(&c.HistoryBytes, "history-bytes", DefaultHistoryBytes, "all topics' history together, in `bytes` (past it the longest-idle topics without subscribers are forgotten)")
	fs.DurationVar(&c.TopicTTL, "topic-ttl", DefaultTopicTTL, "forget a topic without subscribers after this long idle")
	fs.IntVar(&c.MaxTopicsPerConn, "max-topics-per-conn", DefaultMaxTopics, "topics one connection may follow")
	fs.IntVar(&c.Workers, "workers", DefaultWorkers, "task worker pool size")
	fs.IntVar(&c.TaskQueue, "task-queue", DefaultTaskQueue, "tasks waiting for a worker before POST /api/tasks answers 503")
	fs.Int64Var(&c.MaxBody, "max-body", DefaultMaxBody, "largest POST body in `bytes` (over it: 413)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "graceful shutdown deadline")
	fs.StringVar(&c.PprofAddr, "pprof", "", "serve net/http/pprof on this separate `address` (host:port, e.g. 127.0.0.1:6060; default off)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate `file`: serve HTTPS with HTTP/2 (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.BoolVar(&c.TLSSelfSigned, "tls-self-signed", false, "serve HTTPS with a throwaway self-signed certificate (local runs)")
	fs.Var((*redisList)(&c.Redis), "redis", "Redis `URL` redis://[user:pass@]host:port/db (rediss:// for TLS) making this server a node of several; repeat for shards (default none: in-memory)")
	fs.StringVar(&c.Role, "role", RoleAll, "what this node does: `role` all (streams, API and task workers), edge (streams and API) or worker (task workers, /healthz and /metrics); edge and worker need --redis")
	fs.StringVar(&c.WSCompression, "ws-compression", "disabled", "WebSocket permessage-deflate `mode`: disabled, context-takeover or no-context-takeover")
	fs.BoolVar(&c.SSEGzip, "sse-gzip", false, "gzip SSE streams for clients that accept it, flushed per batch")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	hardened := hardeningFlags(fs, &c.Hardening)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: demo [flags]\n\nServes the twinstream demo (WebSocket and SSE streams, task API).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	// Errors are reported by the caller, without the full usage text.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fs.Usage()
		}
		return Config{}, 0, err
	}
	if fs.NArg() > 0 {
		return Config{}, 0, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	var errs []error
	positive := func(name string, ok bool) {
		if !ok {
			errs = append(errs, fmt.Errorf("--%s: must be positive", name))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat", c.Heartbeat}, {"idle-timeout", c.IdleTimeout}, {"write-timeout", c.WriteTimeout},
		{"sse-retry", c.SSERetry}, {"shutdown-timeout", c.ShutdownTimeout},
	} {
		positive(d.name, d.v > 0)
	}
	positive("read-limit", c.ReadLimit > 0)
	positive("queue-size", c.QueueSize > 0)
	positive("queue-bytes", c.QueueBytes > 0)
	positive("history-bytes", c.HistoryBytes > 0)
	positive("topic-ttl", c.TopicTTL > 0)
	positive("max-topics-per-conn", c.MaxTopicsPerConn > 0)
	if c.SSERetrySpread < 0 || c.SSERetrySpread > 1 {
		errs = append(errs, fmt.Errorf("--sse-retry-spread: must be from 0 to 1"))
	}
	positive("workers", c.Workers > 0)
	positive("task-queue", c.TaskQueue > 0)
	positive("max-body", c.MaxBody > 0)
	switch {
	case history < 0:
		errs = append(errs, errors.New("--history: must be >= 0 (0 = none)"))
	case history == 0:
		c.History = -1 // Config: negative keeps none
	default:
		c.History = history
	}
	if c.AdminToken == "" {
		c.AdminToken = os.Getenv(AdminTokenEnv)
	}
	hardened()
	c.AllowOrigins = origins
	if len(errs) == 0 {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, 0, err
	}
	return c, level, nil
}

// originList is a repeatable, comma-separated flag.
type originList []string

func (o *originList) String() string { return strings.Join(*o, ",") }

func (o *originList) Set(v string) error {
	for p := range strings.SplitSeq(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return errors.New("empty origin pattern")
		}
		*o = append(*o, p)
	}
	return nil
}
