package transports

import (
	"context"
	"sync"
)

// A Tracker counts a server's open connections for graceful shutdown: the
// one shutdown accounting of both transports and the demo. Enter admits a
// connection unless the tracker is closing; Leave releases it; Close
// refuses new ones and ends Closing; Wait returns once none is open. The
// zero value is not usable: call NewTracker. All methods are safe for
// concurrent use.
type Tracker struct {
	closing context.Context
	close   context.CancelFunc

	mu    sync.Mutex
	n     int
	empty chan struct{} // closed when n drops to 0; nil while n == 0
}

// NewTracker returns an open tracker.
func NewTracker() *Tracker {
	t := &Tracker{}
	t.closing, t.close = context.WithCancel(context.Background())
	return t
}

// Enter admits a connection; it reports false once Close was called.
func (t *Tracker) Enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing.Err() != nil {
		return false
	}
	if t.n == 0 {
		t.empty = make(chan struct{})
	}
	t.n++
	return true
}

// Leave releases a connection admitted by Enter.
func (t *Tracker) Leave() {
	t.mu.Lock()
	if t.n--; t.n == 0 {
		close(t.empty)
		t.empty = nil
	}
	t.mu.Unlock()
}

// Close refuses new connections and ends Closing. It is idempotent.
func (t *Tracker) Close() { t.close() }

// Closing is done once Close was called (for context.AfterFunc, or to
// select on its Done channel).
func (t *Tracker) Closing() context.Context { return t.closing }

// Open is the number of open connections.
func (t *Tracker) Open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// Wait returns nil once no connection is open, or ctx's error if it ends
// first.
func (t *Tracker) Wait(ctx context.Context) error {
	t.mu.Lock()
	ch := t.empty
	t.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
