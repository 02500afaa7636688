package transports

import (
	"time"

	"github.com/twinstream/twinstream/transports/internal/client"
)

// Backoff is an exponential reconnect schedule with jitter. The zero value
// uses the defaults documented on each field; both Go clients read them, and
// the jitter's meaning, from one place (transports/internal/client).
type Backoff struct {
	// Initial is the first delay. Default 250ms.
	Initial time.Duration
	// Max caps the delay. Default 10s.
	Max time.Duration
	// Multiplier grows the delay per attempt. Default 2.
	Multiplier float64
	// Jitter is the random fraction taken off each delay: a delay d becomes
	// a uniform value in [d*(1-Jitter), d]. Default 0.5; a negative value
	// means none ("full jitter" is 1).
	Jitter float64
}

// Delay returns the wait before reconnect attempt n (n >= 1). The WebSocket
// client waits it between attempts, the SSE client after a 5xx, 408 or 429
// answer (go-sse schedules its other retries from the same fields).
func (b Backoff) Delay(n int) time.Duration { return client.Backoff(b).Delay(n) }
