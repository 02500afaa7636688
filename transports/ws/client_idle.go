package ws

import "github.com/twinstream/twinstream/transports/internal/client"

// DefaultClientIdleTimeout is ClientConfig.IdleTimeout's default: three of
// the server's default heartbeats (DefaultHeartbeat).
const DefaultClientIdleTimeout = client.IdleHeartbeats * DefaultHeartbeat
