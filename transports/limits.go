package transports

import (
	"net"
	"net/http"
	"sync"
)

// Limiter caps open connections, in total and per client IP, across both
// transports, and meters new connections per client IP. The zero value (or
// a nil *Limiter) allows everything. Safe for concurrent use.
type Limiter struct {
	// Max is the total cap; 0 means no cap.
	Max int
	// PerIP is the cap per remote IP; 0 means no cap.
	PerIP int
	// Rate meters new connections per client IP (Acquire only); nil means
	// none. A connection over it is refused with ReasonRateLimited.
	Rate *IPRate

	mu    sync.Mutex
	total int
	byIP  map[string]int
}

// NewLimiter returns a limiter with the given caps (0 = none).
func NewLimiter(max, perIP int) *Limiter { return &Limiter{Max: max, PerIP: perIP} }

// Acquire admits a new stream connection from ip: it spends a token of
// Rate, then takes a slot under both caps. It returns a release func (call
// it once when the connection ends), ReasonRateLimited or
// ReasonTooManyConnections.
func (l *Limiter) Acquire(ip string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	if ok, _ := l.Rate.Allow(ip); !ok {
		return nil, ReasonRateLimited
	}
	return l.take(ip, true)
}

// Hold takes a slot for ip under the per-IP cap alone, without Rate: what
// a request that is not a stream (an API call) holds while it runs, so
// that one address cannot hold more than PerIP connections of any kind.
// It does not count against Max, which caps streams (and Open counts
// streams only). It returns a release func (call it once) or
// ReasonTooManyConnections.
func (l *Limiter) Hold(ip string) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	return l.take(ip, false)
}

// take takes a slot for ip, counted in the total when stream is set.
func (l *Limiter) take(ip string, stream bool) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if stream && l.Max > 0 && l.total >= l.Max {
		return nil, ReasonTooManyConnections
	}
	if l.PerIP > 0 && l.byIP[ip] >= l.PerIP {
		return nil, ReasonTooManyConnections
	}
	if l.byIP == nil {
		l.byIP = map[string]int{}
	}
	if stream {
		l.total++
	}
	l.byIP[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			if stream {
				l.total--
			}
			if l.byIP[ip]--; l.byIP[ip] <= 0 {
				delete(l.byIP, ip)
			}
			l.mu.Unlock()
		})
	}, nil
}

// Open returns the number of stream connections currently held.
func (l *Limiter) Open() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// RemoteIP returns the IP part of r.RemoteAddr (proxy headers are not
// trusted).
func RemoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
