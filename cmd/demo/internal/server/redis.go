package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/redisbroker"
)

// Several nodes on Redis: Config.Redis (--redis, repeatable) names the
// Redis instances. The first one also holds the task queue and store;
// streams spread their topics over all of them (redisbroker.Shard). With
// none, the hub is the in-memory one and the demo needs nothing.

// RedisOptions parses one --redis URL: redis://[user:pass@]host:port/db,
// or rediss:// for TLS. Config.Validate checks every Config.Redis entry
// with it, so code that reads Config.Redis[0] can ignore its error.
func RedisOptions(url string) (*redis.Options, error) { return redisbroker.ParseURL(url) }

// redisList is the repeatable --redis flag.
type redisList []string

func (l *redisList) String() string { return strings.Join(*l, " ") }

func (l *redisList) Set(v string) error {
	if _, err := RedisOptions(v); err != nil {
		return err
	}
	*l = append(*l, v)
	return nil
}

// validateRedis checks Config.Redis.
func (c Config) validateRedis(bad func(flag, format string, a ...any)) {
	seen := map[string]bool{}
	for _, u := range c.Redis {
		o, err := RedisOptions(u)
		if err != nil {
			bad("redis", "%v", err)
			continue
		}
		key := fmt.Sprintf("%s/%d", o.Addr, o.DB)
		if seen[key] {
			bad("redis", "%s is given twice (each shard once)", u)
		}
		seen[key] = true
	}
}

// initBroker builds the Redis broker of Config.Redis (none without it).
func (s *Server) initBroker() error {
	b, err := newBroker(s.cfg)
	s.broker = b
	return err
}

// hubBroker is HubConfig.Broker: the Redis broker, or nil (not a nil
// *redisbroker.Broker in an interface) for the in-memory hub.
func (s *Server) hubBroker() transports.Broker {
	if s.broker == nil {
		return nil
	}
	return s.broker
}

// closeBroker closes the Redis broker after the hub (Shutdown).
func (s *Server) closeBroker() error {
	if s.broker == nil {
		return nil
	}
	if err := s.broker.Close(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// newBroker builds the Redis broker of Config.Redis, or returns nil
// without it.
func newBroker(cfg Config) (*redisbroker.Broker, error) {
	if len(cfg.Redis) == 0 {
		return nil, nil
	}
	shards := make([]*redis.Options, 0, len(cfg.Redis))
	for _, u := range cfg.Redis {
		o, err := RedisOptions(u)
		if err != nil {
			return nil, err
		}
		shards = append(shards, o)
	}
	return redisbroker.New(redisbroker.Config{
		Shards: shards, History: cfg.History, Logger: cfg.Logger.With("component", "redis"),
	})
}

// redisPingTimeout bounds the Redis check of /healthz.
const redisPingTimeout = time.Second

// RedisHealth reports whether every Redis shard of the streams answers
// (nil without --redis): /healthz answers 503 with its error as the reason.
// The task queue and store, on Config.Redis[0], are checked by their own.
func (s *Server) RedisHealth(ctx context.Context) error {
	if s.broker == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	return s.broker.Ping(ctx)
}

// Health is the body of GET /healthz.
type Health struct {
	Status string `json:"status"`           // ok, shutting_down, unavailable
	Reason string `json:"reason,omitempty"` // why not ok
}

// healthz answers {"status":"ok"}, or 503 {"status":"shutting_down"} while
// stopping, or 503 {"status":"unavailable","reason":"redis …"} while a
// Redis shard does not answer.
func (s *Server) healthz(c echo.Context) error {
	if s.draining.Load() {
		return c.JSON(http.StatusServiceUnavailable, Health{Status: "shutting_down"})
	}
	if err := s.RedisHealth(c.Request().Context()); err != nil {
		return c.JSON(http.StatusServiceUnavailable, Health{Status: "unavailable", Reason: err.Error()})
	}
	return c.JSON(http.StatusOK, Health{Status: "ok"})
}

// publishError is the answer to a publish the hub refused: 503 with
// Retry-After while the broker (Redis) does not answer or the server stops,
// so that a publisher retries instead of losing the event silently.
func publishError(err error) *apiError {
	e := newAPIError(http.StatusServiceUnavailable, transports.CodeUnavailable, err.Error())
	switch {
	case errors.Is(err, transports.ErrUnavailable):
		e.frame.Message = "event not published: " + err.Error()
		e.retryAfter = 1
	case errors.Is(err, transports.ErrClosed):
		e.retryAfter = 5
	}
	return e
}
