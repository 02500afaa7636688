package sse

import (
	"errors"
)

// DefaultClientIdleTimeout is ClientConfig.IdleTimeout's default: three of
// the server's default heartbeats (DefaultHeartbeat).
const DefaultClientIdleTimeout = 3 * DefaultHeartbeat

// errIdle cancels a request whose server fell silent (the context's cause).
var errIdle = errors.New("sse: nothing received within the client's IdleTimeout")
