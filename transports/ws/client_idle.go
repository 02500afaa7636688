package ws

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultClientIdleTimeout is ClientConfig.IdleTimeout's default: three of
// the server's default heartbeats (DefaultHeartbeat).
const DefaultClientIdleTimeout = 3 * DefaultHeartbeat

// errIdle is why a session ends when its server fell silent.
var errIdle = errors.New("ws: nothing received within the client's IdleTimeout")

// clockBase is the origin of activity stamps; it is set once and only read,
// and it carries a monotonic clock reading.
var clockBase = time.Now()

// idleTimer calls expire once nothing was noted for its period. A
// connection costs one runtime timer and no goroutine while it waits:
// note is an atomic store, and the timer is never reset on activity;
// instead, when it fires, it re-arms itself for the rest of the period if
// something was noted meanwhile. Only an expiry runs a goroutine (the
// timer's), briefly.
//
// note may be called before start and concurrently with anything; start
// once, then stop once.
type idleTimer struct {
	last atomic.Int64 // when activity was last noted: nanoseconds since clockBase

	mu      sync.Mutex
	t       *time.Timer
	d       time.Duration
	expire  func()
	done    bool // stopped or expired
	expired bool
}

// note records activity now.
func (w *idleTimer) note() { w.last.Store(int64(time.Since(clockBase))) }

// start notes activity and arms the timer: expire runs, on the timer's
// goroutine, after d without activity.
func (w *idleTimer) start(d time.Duration, expire func()) {
	w.note()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d, w.expire = d, expire
	w.t = time.AfterFunc(d, w.check)
}

func (w *idleTimer) check() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	if quiet := time.Since(clockBase) - time.Duration(w.last.Load()); quiet < w.d {
		w.t.Reset(w.d - quiet)
		w.mu.Unlock()
		return
	}
	w.done, w.expired = true, true
	w.mu.Unlock()
	w.expire()
}

// stop disarms the timer and reports whether it had expired. After stop,
// expire is not called (it may still be running if it had expired).
func (w *idleTimer) stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.t != nil {
		w.t.Stop()
	}
	return w.expired
}
