package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/transports/internal/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStateString(t *testing.T) {
	for s, want := range map[client.State]string{
		client.Connecting: "connecting",
		client.Open:       "open",
		client.Waiting:    "waiting",
		client.Closed:     "closed",
		0:                 "ClientState(0)",
		9:                 "ClientState(9)",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d) = %q, want %q", int(s), got, want)
		}
	}
}

func TestBackoffWithDefaults(t *testing.T) {
	def := client.Backoff{Initial: 250 * time.Millisecond, Max: 10 * time.Second, Multiplier: 2, Jitter: 0.5}
	for _, tc := range []struct {
		name     string
		in, want client.Backoff
	}{
		{"zero", client.Backoff{}, def},
		{"given", client.Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, Jitter: 0.2}, client.Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, Jitter: 0.2}},
		{"not positive", client.Backoff{Initial: -1, Max: -1, Multiplier: 0.5}, def},
		{"no jitter", client.Backoff{Jitter: -1}, client.Backoff{Initial: def.Initial, Max: def.Max, Multiplier: 2, Jitter: 0}},
		{"full jitter", client.Backoff{Jitter: 1}, client.Backoff{Initial: def.Initial, Max: def.Max, Multiplier: 2, Jitter: 1}},
		{"over full", client.Backoff{Jitter: 3}, client.Backoff{Initial: def.Initial, Max: def.Max, Multiplier: 2, Jitter: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.WithDefaults(); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	fixed := client.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Jitter: -1}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 50: time.Second} {
		if got := fixed.Delay(n); got != want {
			t.Errorf("Delay(%d) = %v, want %v", n, got, want)
		}
	}
	full := client.Backoff{Initial: time.Second, Jitter: 1}
	for range 100 {
		if d := full.Delay(1); d < 0 || d > time.Second {
			t.Fatalf("full jitter: Delay(1) = %v, want in [0, 1s]", d)
		}
	}
}

func TestTemporaryStatus(t *testing.T) {
	for code, want := range map[int]bool{
		400: false, 403: false, 404: false, 413: false,
		408: true, 429: true, 500: true, 502: true, 503: true,
	} {
		if got := client.TemporaryStatus(code); got != want {
			t.Errorf("TemporaryStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestSleep(t *testing.T) {
	if err := client.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := client.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
}

func TestCounters(t *testing.T) {
	var c client.Counters
	c.Opened()
	c.Opened()
	c.Event(false)
	c.Event(true)
	c.Received(10)
	c.Pinged(3)
	want := client.Stats{Connects: 2, Reconnects: 1, Resets: 1, Events: 2, Bytes: 10, Pings: 3}
	if got := c.Snapshot(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestIdleTimeout(t *testing.T) {
	const def = 45 * time.Second
	for _, tc := range []struct {
		in, want time.Duration
	}{
		{0, def},
		{-1, 0},
		{-time.Hour, 0},
		{2 * time.Second, 2 * time.Second},
	} {
		if got := client.IdleTimeout(tc.in, def); got != tc.want {
			t.Errorf("IdleTimeout %v: got %v, want %v", tc.in, got, tc.want)
		}
	}
}
