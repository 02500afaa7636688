package transports

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: PerSecond tokens are added every second, up to
// Burst. A zero PerSecond means no limit. A Burst below 1 means one second's
// worth of tokens (at least 1).
type Rate struct {
	PerSecond float64
	Burst     int
}

// On reports whether r limits anything.
func (r Rate) On() bool { return r.PerSecond > 0 }

// burst is r's bucket size.
func (r Rate) burst() int {
	if r.Burst >= 1 {
		return r.Burst
	}
	return max(1, int(math.Ceil(r.PerSecond)))
}

func (r Rate) limiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(r.PerSecond), r.burst()) }

// A Verdict is what a CommandLimit says of one command.
type Verdict int

const (
	// Allowed: within the rate; run the command.
	Allowed Verdict = iota
	// Refused: over the rate; answer with a rate_limited error frame and
	// drop the command.
	Refused
	// Exceeded: over the rate past the grace; close the connection with
	// ReasonRateLimited.
	Exceeded
)

// CommandLimit meters the commands (every data frame) of one connection:
// a token bucket of its Rate, and a grace of as many refused commands in a
// row as the bucket's burst. A command refused past the grace (no command
// allowed since the last Burst refusals) means the client ignores the
// rate_limited frames it is sent. A nil *CommandLimit allows everything. It
// is not safe for concurrent use: the connection's reader owns it.
type CommandLimit struct {
	lim     *rate.Limiter
	grace   int
	refused int // refused in a row
}

// NewCommandLimit returns a limit of r per connection, or nil when r is
// off.
func NewCommandLimit(r Rate) *CommandLimit {
	if !r.On() {
		return nil
	}
	return &CommandLimit{lim: r.limiter(), grace: r.burst()}
}

// Allow spends a token for one command and says what to do with it.
func (l *CommandLimit) Allow() Verdict {
	if l == nil {
		return Allowed
	}
	if l.lim.Allow() {
		l.refused = 0
		return Allowed
	}
	if l.refused++; l.refused > l.grace {
		return Exceeded
	}
	return Refused
}

// IPRate meters events per client IP (new connections, API publishes) with
// one token bucket of its Rate per IP. A bucket that has filled up again is
// the same as a new one, so such buckets are forgotten (at most every
// ipRateSweep): the map holds only the IPs seen recently. A nil *IPRate
// allows everything. Safe for concurrent use.
type IPRate struct {
	rate Rate

	mu    sync.Mutex
	byIP  map[string]*rate.Limiter
	swept time.Time
}

// ipRateSweep is how often IPRate looks for buckets to forget.
const ipRateSweep = 10 * time.Second

// NewIPRate returns a limit of r per IP, or nil when r is off.
func NewIPRate(r Rate) *IPRate {
	if !r.On() {
		return nil
	}
	return &IPRate{rate: r, byIP: map[string]*rate.Limiter{}, swept: time.Now()}
}

// Allow spends one of ip's tokens. When there is none it returns false and
// how long until there is one.
func (l *IPRate) Allow(ip string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= ipRateSweep {
		l.sweepLocked(now)
	}
	lim := l.byIP[ip]
	if lim == nil {
		lim = l.rate.limiter()
		l.byIP[ip] = lim
	}
	if lim.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - lim.TokensAt(now)
	return false, time.Duration(math.Ceil(missing / l.rate.PerSecond * float64(time.Second)))
}

// sweepLocked forgets the buckets that are full again.
func (l *IPRate) sweepLocked(now time.Time) {
	full := float64(l.rate.burst())
	for ip, lim := range l.byIP {
		if lim.TokensAt(now) >= full {
			delete(l.byIP, ip)
		}
	}
	l.swept = now
}

// Len is the number of IPs with a bucket (tests and metrics).
func (l *IPRate) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byIP)
}
