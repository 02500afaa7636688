package transports_test

import (
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

var fixedTime = time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)

func TestLimiter(t *testing.T) {
	l := transports.NewLimiter(3, 2)
	r1, err := l.Acquire("10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := l.Acquire("10.0.0.1")
	if _, err := l.Acquire("10.0.0.1"); transports.ReasonOf(err) != transports.ReasonTooManyConnections {
		t.Fatalf("per-IP cap not enforced: %v", err)
	}
	r3, err := l.Acquire("10.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire("10.0.0.3"); err == nil {
		t.Fatal("global cap not enforced")
	}
	r1()
	r1() // idempotent
	if l.Open() != 2 {
		t.Fatalf("open = %d", l.Open())
	}
	r4, err := l.Acquire("10.0.0.1")
	if err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
	for _, r := range []func(){r2, r3, r4} {
		r()
	}
	if l.Open() != 0 {
		t.Fatalf("open = %d", l.Open())
	}
	var none *transports.Limiter
	if _, err := none.Acquire("x"); err != nil {
		t.Fatal("nil limiter must allow")
	}
}

func TestBackoff(t *testing.T) {
	b := transports.Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	for n, hi := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 10: time.Second} {
		for range 50 {
			d := b.Delay(n)
			if d > hi || d < hi/2 {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v]", n, d, hi/2, hi)
			}
		}
	}
	fixed := transports.Backoff{Initial: time.Second, Jitter: -1}
	if d := fixed.Delay(1); d != time.Second {
		t.Fatalf("no jitter: %v", d)
	}
}

func TestCloseReasonsTable(t *testing.T) {
	seen := map[int]bool{}
	for _, r := range transports.CloseReasons {
		if seen[r.WSStatus] {
			t.Errorf("WS status %d used twice", r.WSStatus)
		}
		seen[r.WSStatus] = true
		if r.Code == "" || r.Text == "" || r.SSE == "" {
			t.Errorf("incomplete reason %+v", r)
		}
		if len(r.Text) > 123 {
			t.Errorf("%s: close reason text over 123 bytes cannot be sent", r.Code)
		}
	}
}

func TestPingFrameMatchesControlFrame(t *testing.T) {
	want := transports.ControlFrame{Type: transports.TypePing, TS: fixedTime.UnixMicro()}.JSON()
	if got := transports.PingFrame(fixedTime); string(got) != string(want) {
		t.Fatalf("PingFrame = %s, want %s", got, want)
	}
}
