package client

import (
	"testing"
	"time"
)

// The package's TestMain (goleak) is in client_test.go.

func TestWatchdog(t *testing.T) {
	t.Run("stopped before expiry", func(t *testing.T) {
		w := NewWatchdog()
		w.Start(time.Hour, func() { t.Error("expired") })
		if w.Stop() {
			t.Error("stop reports an expiry")
		}
	})
	t.Run("expires without activity", func(t *testing.T) {
		w := NewWatchdog()
		fired := make(chan struct{})
		w.Start(10*time.Millisecond, func() { close(fired) })
		select {
		case <-fired:
		case <-time.After(10 * time.Second):
			t.Fatal("never expired")
		}
		if !w.Stop() {
			t.Error("stop does not report the expiry")
		}
	})
	// check is what the timer runs; called directly, it needs no timing.
	t.Run("recent activity re-arms", func(t *testing.T) {
		w := NewWatchdog()
		w.Start(time.Hour, func() { t.Error("expired") })
		w.last.Store(int64(time.Since(w.base) - 59*time.Minute))
		w.check()
		if w.Stop() {
			t.Error("stop reports an expiry")
		}
	})
	t.Run("stale activity expires", func(t *testing.T) {
		w := NewWatchdog()
		n := 0
		w.Start(time.Hour, func() { n++ })
		w.last.Store(int64(time.Since(w.base) - 61*time.Minute))
		w.check()
		w.check() // a late second run does nothing
		if expired := w.Stop(); !expired || n != 1 {
			t.Errorf("expired %d times, stop = %v; want once, true", n, expired)
		}
	})
}
