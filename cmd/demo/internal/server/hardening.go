package server

import (
	"flag"
	"os"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/auth"
	"github.com/twinstream/twinstream/transports"
)

// Defaults of Hardening's flags. Hardening's zero value limits no rate
// (the flags turn the limits on); the timeouts default when zero.
const (
	DefaultCmdRate         = 100  // --cmd-rate: commands per second per WebSocket connection
	DefaultCmdBurst        = 200  // --cmd-burst
	DefaultPublishRate     = 1000 // --publish-rate: API publishes per second per client IP
	DefaultPublishBurst    = 1000 // --publish-burst
	DefaultConnRate        = 1000 // --conn-rate: new stream connections per second per client IP
	DefaultConnBurst       = 5000 // --conn-burst: a whole reconnect wave of one address
	DefaultBodyTimeout     = 10 * time.Second
	DefaultHTTPIdleTimeout = 60 * time.Second
)

// AuthSecretEnv names the environment variable read when --auth-secret is
// not given (so the secret need not appear in the process list).
const AuthSecretEnv = "TWINSTREAM_AUTH_SECRET"

// Hardening is the part of Config that defends the server against its
// clients: rate limits, identity, HTTP timeouts. The zero value sets no
// rate limit and no authentication, and the default timeouts.
type Hardening struct {
	// CommandRate limits each WebSocket connection's commands (every data
	// frame): a command over it is dropped and answered with a
	// rate_limited error frame; after as many refusals in a row as the
	// burst the connection closes with 4029. Zero: no limit (the
	// --cmd-rate and --cmd-burst flags default to 100/s, burst 200).
	CommandRate transports.Rate
	// PublishRate limits POST /api/topics/:topic/events and POST
	// /api/messages per client IP: over it, 429 with Retry-After and a
	// rate_limited JSON body. Zero: no limit (--publish-rate and
	// --publish-burst default to 1,000/s, burst 1,000).
	PublishRate transports.Rate
	// ConnRate limits new stream connections per client IP, both
	// transports together: over it a WebSocket is closed with 4029 right
	// after the upgrade, and an SSE request gets 200 with retry: and a
	// rate_limited error frame (so EventSource retries later). Zero: no
	// limit (--conn-rate and --conn-burst default to 1,000/s, burst 5,000).
	ConnRate transports.Rate
	// AuthSecret, when set (at least 32 bytes), turns on signed tokens
	// (package auth: HS256 JWTs, "sub" = client id, "pub" = publisher):
	// client_id then comes only from a valid token, and publishing into
	// client:* topics or publishing join/leave needs a publisher token.
	// Default "": no authentication at all.
	AuthSecret string
	// HeaderTimeout bounds reading a request's header
	// (http.Server.ReadHeaderTimeout). Default 10s.
	HeaderTimeout time.Duration
	// BodyTimeout bounds reading a POST body, counted from the end of its
	// header: a body not in by then gets 408 and its connection closes.
	// Default 10s.
	BodyTimeout time.Duration
	// HTTPIdleTimeout closes a keep-alive connection idle this long
	// between requests (http.Server.IdleTimeout). Default 60s.
	HTTPIdleTimeout time.Duration
}

func (h Hardening) withDefaults() Hardening {
	if h.HeaderTimeout == 0 {
		h.HeaderTimeout = DefaultHeaderTimeout
	}
	if h.BodyTimeout == 0 {
		h.BodyTimeout = DefaultBodyTimeout
	}
	if h.HTTPIdleTimeout == 0 {
		h.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	return h
}

// validate reports out-of-range fields through bad (Config.Validate's).
func (h Hardening) validate(bad func(flag, format string, a ...any)) {
	for _, r := range []struct {
		name string
		r    transports.Rate
	}{{"cmd", h.CommandRate}, {"publish", h.PublishRate}, {"conn", h.ConnRate}} {
		if r.r.PerSecond < 0 {
			bad(r.name+"-rate", "must be >= 0 (0 = no limit)")
		}
		if r.r.Burst < 0 {
			bad(r.name+"-burst", "must be >= 0 (0 = one second's worth)")
		}
	}
	if h.AuthSecret != "" && len(h.AuthSecret) < auth.MinSecretLen {
		bad("auth-secret", "is %d bytes; an HS256 secret needs at least %d", len(h.AuthSecret), auth.MinSecretLen)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"header-timeout", h.HeaderTimeout}, {"body-timeout", h.BodyTimeout}, {"http-idle-timeout", h.HTTPIdleTimeout}} {
		if d.v < 0 {
			bad(d.name, "must be positive, got %v", d.v)
		}
	}
}

// hardeningFlags registers Hardening's flags on fs; call the returned
// func after fs.Parse (it reads $TWINSTREAM_AUTH_SECRET when --auth-secret
// was not given).
func hardeningFlags(fs *flag.FlagSet, h *Hardening) (after func()) {
	fs.Float64Var(&h.CommandRate.PerSecond, "cmd-rate", DefaultCmdRate, "WebSocket commands per `second` per connection (0 = no limit; over it: rate_limited, then close 4029)")
	fs.IntVar(&h.CommandRate.Burst, "cmd-burst", DefaultCmdBurst, "burst of --cmd-rate, also the grace: refusals in a row before close 4029")
	fs.Float64Var(&h.PublishRate.PerSecond, "publish-rate", DefaultPublishRate, "API publishes (POST /api/topics/…, /api/messages) per `second` per client IP (0 = no limit; over it: 429)")
	fs.IntVar(&h.PublishRate.Burst, "publish-burst", DefaultPublishBurst, "burst of --publish-rate")
	fs.Float64Var(&h.ConnRate.PerSecond, "conn-rate", DefaultConnRate, "new stream connections per `second` per client IP (0 = no limit; over it: WS close 4029, SSE 200 with retry:)")
	fs.IntVar(&h.ConnRate.Burst, "conn-burst", DefaultConnBurst, "burst of --conn-rate")
	fs.StringVar(&h.AuthSecret, "auth-secret", "", "HS256 `secret` (32+ bytes) turning on signed tokens: client_id from the token's sub (default $"+AuthSecretEnv+"; unset: no authentication)")
	fs.DurationVar(&h.HeaderTimeout, "header-timeout", DefaultHeaderTimeout, "deadline for a request's header")
	fs.DurationVar(&h.BodyTimeout, "body-timeout", DefaultBodyTimeout, "deadline for a POST body, from the end of its header (over it: 408)")
	fs.DurationVar(&h.HTTPIdleTimeout, "http-idle-timeout", DefaultHTTPIdleTimeout, "close a keep-alive HTTP connection idle this long between requests")
	return func() {
		if h.AuthSecret == "" {
			h.AuthSecret = os.Getenv(AuthSecretEnv)
		}
	}
}
