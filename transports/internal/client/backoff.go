package client

import (
	"context"
	"math/rand/v2"
	"net/http"
	"time"
)

// The reconnect schedule's defaults (transports.Backoff documents them on
// its fields).
const (
	DefaultInitial    = 250 * time.Millisecond
	DefaultMax        = 10 * time.Second
	DefaultMultiplier = 2
	DefaultJitter     = 0.5
)

// Backoff has transports.Backoff's fields, in its order, so that each
// converts to the other (a field added to one and not the other fails to
// compile where they convert). Its methods are the schedule's rules.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64
}

// WithDefaults returns b with every field it leaves unset at its default:
// Initial and Max when not positive, Multiplier when below 1, Jitter when
// zero. A negative Jitter becomes 0 (none) and one above 1 becomes 1 (full
// jitter), so the result's Jitter is in [0, 1].
func (b Backoff) WithDefaults() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultMax
	}
	if b.Multiplier < 1 {
		b.Multiplier = DefaultMultiplier
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultJitter
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	return b
}

// Delay returns the wait before reconnect attempt n (n >= 1): Initial grown
// by Multiplier per attempt up to Max, less a uniform random fraction of at
// most Jitter of it.
func (b Backoff) Delay(n int) time.Duration {
	b = b.WithDefaults()
	d := float64(b.Initial)
	for i := 1; i < n && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	d -= d * b.Jitter * rand.Float64()
	return time.Duration(d)
}

// Sleep waits d, or until ctx is done: then it returns ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// TemporaryStatus reports whether an HTTP answer that is not a stream is
// worth retrying later: 5xx, 408 Request Timeout and 429 Too Many Requests.
// Any other 4xx means the request itself is wrong and stops the client.
func TemporaryStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}
