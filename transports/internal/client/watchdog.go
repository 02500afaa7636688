package client

import (
	"sync"
	"sync/atomic"
	"time"
)

// A Watchdog is how both clients notice a server that fell silent: it
// calls its expire func once nothing was noted for its period. A connection
// costs one runtime timer and no goroutine while it waits: Note is an
// atomic store, and the timer is never reset on activity; instead, when it
// fires, it re-arms itself for the rest of the period if something was
// noted meanwhile. Only an expiry runs a goroutine (the timer's), briefly.
//
// Note may be called before Start and concurrently with anything; Start
// once, then Stop once. Make one with NewWatchdog.
type Watchdog struct {
	base time.Time    // origin of activity stamps (carries a monotonic reading)
	last atomic.Int64 // when activity was last noted: nanoseconds since base

	mu      sync.Mutex
	t       *time.Timer
	d       time.Duration
	expire  func()
	done    bool // stopped or expired
	expired bool
}

// NewWatchdog returns an unarmed Watchdog.
func NewWatchdog() *Watchdog { return &Watchdog{base: time.Now()} }

// Note records activity now.
func (w *Watchdog) Note() { w.last.Store(int64(time.Since(w.base))) }

// Start notes activity and arms the timer: expire runs after d without
// activity, on a goroutine of the runtime's timer (time.AfterFunc), which
// owns it for the length of that call only.
func (w *Watchdog) Start(d time.Duration, expire func()) {
	w.Note()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d, w.expire = d, expire
	// The timer's goroutine, started each time it fires, is owned by w:
	// check re-arms it or expires once, and Stop disarms it.
	w.t = time.AfterFunc(d, w.check)
}

func (w *Watchdog) check() {
	w.mu.Lock()
	if w.done {
		w.mu.Unlock()
		return
	}
	if quiet := time.Since(w.base) - time.Duration(w.last.Load()); quiet < w.d {
		w.t.Reset(w.d - quiet)
		w.mu.Unlock()
		return
	}
	w.done, w.expired = true, true
	w.mu.Unlock()
	w.expire()
}

// Stop disarms the timer and reports whether it had expired. After Stop,
// expire is not called (it may still be running if it had expired).
func (w *Watchdog) Stop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
	if w.t != nil {
		w.t.Stop()
	}
	return w.expired
}
