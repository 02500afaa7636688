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
