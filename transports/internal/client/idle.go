package client

import (
	"errors"
	"time"
)

// IdleHeartbeats is how many of the server's default heartbeats a client
// waits, by default, before it takes a silent server for dead: each
// package's DefaultClientIdleTimeout is IdleHeartbeats × its
// DefaultHeartbeat.
const IdleHeartbeats = 3

// IdleTimeout resolves a ClientConfig.IdleTimeout: 0 means def, a negative
// value means none (0 is returned), anything else is itself.
func IdleTimeout(d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return 0
	case d == 0:
		return def
	default:
		return d
	}
}

// ErrIdle is why a client drops a connection on which nothing arrived for
// its IdleTimeout.
var ErrIdle = errors.New("nothing received within the client's IdleTimeout")
