package transports

import (
	"math/rand/v2"
	"time"
)

// Backoff is an exponential reconnect schedule with jitter. The zero value
// uses the defaults documented on each field.
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

// Delay returns the wait before reconnect attempt n (n >= 1).
func (b Backoff) Delay(n int) time.Duration {
	initial, max, mult, jitter := b.Initial, b.Max, b.Multiplier, b.Jitter
	if initial <= 0 {
		initial = 250 * time.Millisecond
	}
	if max <= 0 {
		max = 10 * time.Second
	}
	if mult < 1 {
		mult = 2
	}
	switch {
	case jitter == 0:
		jitter = 0.5
	case jitter < 0:
		jitter = 0
	case jitter > 1:
		jitter = 1
	}
	d := float64(initial)
	for i := 1; i < n && d < float64(max); i++ {
		d *= mult
	}
	d = min(d, float64(max))
	d -= d * jitter * rand.Float64()
	return time.Duration(d)
}
