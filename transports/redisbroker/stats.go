package redisbroker

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Stats are a broker's counters since New, all shards together.
type Stats struct {
	// RoundTrips counts requests to Redis: a command or a pipeline (a
	// publish script, a history read, a ping), not the pub/sub stream.
	RoundTrips uint64
	// Errors counts the round trips that failed (Redis unreachable or
	// answering an error; a script's NOSCRIPT, answered by sending it, and
	// a nil reply are not errors).
	Errors uint64
	// PubSubReconnects counts the times a pub/sub connection came back
	// after it failed.
	PubSubReconnects uint64
}

// Stats returns the broker's counters.
func (b *Broker) Stats() Stats {
	return Stats{
		RoundTrips:       b.stats.trips.Load(),
		Errors:           b.stats.errors.Load(),
		PubSubReconnects: b.stats.reconnects.Load(),
	}
}

type counters struct {
	trips, errors, reconnects atomic.Uint64
}

// hook counts a client's round trips and their errors (go-redis hooks).
func (c *counters) hook() redis.Hook { return countHook{c} }

type countHook struct{ c *counters }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if !handshake(cmd) {
			h.count(err)
		}
		return err
	}
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if len(cmds) == 0 || !handshake(cmds[0]) {
			h.count(err)
		}
		return err
	}
}

// handshake reports whether cmd is part of go-redis's connection set-up
// (HELLO, CLIENT SETINFO and the like, which an older Redis refuses
// harmlessly): not a request of the broker's.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (h countHook) count(err error) {
	h.c.trips.Add(1)
	if err != nil && !errors.Is(err, redis.Nil) && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		h.c.errors.Add(1)
	}
}
