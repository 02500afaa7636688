package streamtest

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Running is a client's Run in the background.
type Running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's result, once done
}

// errStuck is Stop's error when Run does not return after its context ends.
var errStuck = errors.New("Run did not return after cancel")

// Run starts run (a client's Run method) with a context that Stop cancels;
// the end of the test stops it too, and fails the test if it does not
// return.
func Run(t testing.TB, run func(context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{cancel: cancel, done: make(chan struct{})}
	// owner: r; it ends when run returns, at the latest once Stop (or the
	// cleanup below) cancels ctx.
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() {
		if err := r.Stop(); errors.Is(err, errStuck) {
			t.Error(err)
		}
	})
	return r
}

// Stop cancels Run's context and returns Run's result.
func (r *Running) Stop() error {
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(Wait):
		return errStuck
	}
}

// Result waits for Run to return on its own and returns its result,
// failing the test if it does not within Wait.
func (r *Running) Result(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(Wait):
		t.Fatal("Run did not return")
		return nil
	}
}
