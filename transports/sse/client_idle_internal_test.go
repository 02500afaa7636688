package sse

import (
	"testing"
	"time"
)

func TestClientIdleTimeoutDefault(t *testing.T) {
	for _, tc := range []struct {
		in, want time.Duration
	}{
		{0, 45 * time.Second},
		{-1, 0},
		{-time.Hour, 0},
		{2 * time.Second, 2 * time.Second},
	} {
		if got := NewClient(ClientConfig{URL: "http://x/sse", IdleTimeout: tc.in}).idleTimeout(); got != tc.want {
			t.Errorf("IdleTimeout %v: got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestIdleTimer(t *testing.T) {
	t.Run("stopped before expiry", func(t *testing.T) {
		var w idleTimer
		w.start(time.Hour, func() { t.Error("expired") })
		if w.stop() {
			t.Error("stop reports an expiry")
		}
	})
	t.Run("expires without activity", func(t *testing.T) {
		var w idleTimer
		fired := make(chan struct{})
		w.start(10*time.Millisecond, func() { close(fired) })
		select {
		case <-fired:
		case <-time.After(10 * time.Second):
			t.Fatal("never expired")
		}
		if !w.stop() {
			t.Error("stop does not report the expiry")
		}
	})
	// check is what the timer runs; called directly, it needs no timing.
	t.Run("recent activity re-arms", func(t *testing.T) {
		var w idleTimer
		w.start(time.Hour, func() { t.Error("expired") })
		w.last.Store(int64(time.Since(clockBase) - 59*time.Minute))
		w.check()
		if w.stop() {
			t.Error("stop reports an expiry")
		}
	})
	t.Run("stale activity expires", func(t *testing.T) {
		var w idleTimer
		n := 0
		w.start(time.Hour, func() { n++ })
		w.last.Store(int64(time.Since(clockBase) - 61*time.Minute))
		w.check()
		w.check() // a late second run does nothing
		if expired := w.stop(); !expired || n != 1 {
			t.Errorf("expired %d times, stop = %v; want once, true", n, expired)
		}
	})
}
