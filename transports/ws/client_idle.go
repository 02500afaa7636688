package ws

import (
	"errors"
)

// DefaultClientIdleTimeout is ClientConfig.IdleTimeout's default: three of
// the server's default heartbeats (DefaultHeartbeat).
const DefaultClientIdleTimeout = 3 * DefaultHeartbeat

// errIdle is why a session ends when its server fell silent.
var errIdle = errors.New("ws: nothing received within the client's IdleTimeout")
