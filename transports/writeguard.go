package transports

import (
	"sync"
	"sync/atomic"
	"time"
)

// A WriteGuard bounds the socket writes of many connections with one
// goroutine, instead of a write deadline per write (two timer updates in
// the runtime for every batch). A connection marks the start and the end of
// each write on its WriteClock; a write still running after the guard's
// timeout is cut (the connection's cut function expires its deadline, so
// the write fails and the connection loop closes it). A write is cut
// between timeout and timeout × 1.25 after it began.
//
// The guard's goroutine runs only while at least one clock is registered:
// it starts with the first Watch and stops with the last Release, so a
// guard needs no Close. All methods are safe for concurrent use.
type WriteGuard struct {
	timeout time.Duration
	epoch   time.Time // base of the clocks' monotonic stamps

	mu     sync.Mutex
	clocks map[*WriteClock]struct{}
	stop   chan struct{} // closed to stop the running goroutine; nil when none runs
}

// NewWriteGuard returns a guard that cuts writes running longer than
// timeout (0 means DefaultWriteTimeout).
func NewWriteGuard(timeout time.Duration) *WriteGuard {
	if timeout <= 0 {
		timeout = DefaultWriteTimeout
	}
	return &WriteGuard{timeout: timeout, epoch: time.Now(), clocks: map[*WriteClock]struct{}{}}
}

// A WriteClock is one connection's registration with a WriteGuard.
type WriteClock struct {
	g       *WriteGuard
	cut     func()
	started atomic.Int64 // ns since g.epoch when the running write began; 0 when none runs
}

// Watch registers a connection. cut is called (from the guard's goroutine)
// when one of its writes overruns; it must make that write fail, e.g. by
// setting a write deadline in the past. Release the clock when the
// connection ends.
func (g *WriteGuard) Watch(cut func()) *WriteClock {
	c := &WriteClock{g: g, cut: cut}
	g.mu.Lock()
	g.clocks[c] = struct{}{}
	if g.stop == nil {
		g.stop = make(chan struct{})
		go g.run(g.stop) // owner: the guard; stopped by the last Release
	}
	g.mu.Unlock()
	return c
}

// Release unregisters the clock; the last one stops the guard's goroutine.
func (c *WriteClock) Release() {
	g := c.g
	g.mu.Lock()
	delete(g.clocks, c)
	if len(g.clocks) == 0 && g.stop != nil {
		close(g.stop)
		g.stop = nil
	}
	g.mu.Unlock()
}

// Begin marks the start of a write.
func (c *WriteClock) Begin() { c.started.Store(max(int64(time.Since(c.g.epoch)), 1)) }

// End marks the end of a write.
func (c *WriteClock) End() { c.started.Store(0) }

// run checks the running writes every quarter of the timeout.
func (g *WriteGuard) run(stop <-chan struct{}) {
	t := time.NewTicker(max(g.timeout/4, time.Millisecond))
	defer t.Stop()
	var late []*WriteClock
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		now := int64(time.Since(g.epoch))
		g.mu.Lock()
		for c := range g.clocks {
			if s := c.started.Load(); s != 0 && now-s > int64(g.timeout) && c.started.CompareAndSwap(s, 0) {
				late = append(late, c)
			}
		}
		g.mu.Unlock()
		for _, c := range late {
			c.cut() // outside the lock: it touches a socket
		}
		clear(late)
		late = late[:0]
	}
}
