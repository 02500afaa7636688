package sse

import (
	"strings"
	"testing"
	"time"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/twinstream/twinstream/transports"
)

func TestCountComments(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		want   uint64
	}{
		{"one heartbeat", []string{": ping\n\n"}, 1},
		{"between events", []string{"id: 1\ndata: {}\n\n: ping\n\nid: 2\ndata: {\":\":1}\n\n"}, 1},
		{"split before the colon", []string{"data: x\n\n", ": ping\n\n"}, 1},
		{"split inside a line", []string{"data: a", ":b\n\n:", " ping\n\n"}, 1},
		{"CR and CRLF line ends", []string{": a\r\r: b\r\n\r\n: c\n"}, 3},
		{"colon inside data", []string{"data: {\"a\":1}\n\n"}, 0},
		{"several", []string{": ping\n\n: ping\n\n: ping\n\n"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n uint64
			start := true
			for _, c := range tc.chunks {
				n += countComments([]byte(c), &start)
			}
			if n != tc.want {
				t.Errorf("counted %d comments, want %d", n, tc.want)
			}
		})
	}
}

func TestGoSSEBackoff(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   transports.Backoff
		want gosse.Backoff
	}{
		{"defaults", transports.Backoff{}, gosse.Backoff{InitialInterval: 250 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2, Jitter: 0.5}},
		{"given", transports.Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, Jitter: 0.2}, gosse.Backoff{InitialInterval: time.Second, MaxInterval: time.Minute, Multiplier: 1.5, Jitter: 0.2}},
		{"no jitter", transports.Backoff{Jitter: -1}, gosse.Backoff{InitialInterval: 250 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2, Jitter: 1e-9}},
		{"full jitter", transports.Backoff{Jitter: 1}, gosse.Backoff{InitialInterval: 250 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2, Jitter: 0.99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := goSSEBackoff(tc.in); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// FuzzCountComments checks the streaming count against counting whole
// lines, wherever the input is split.
func FuzzCountComments(f *testing.F) {
	f.Add([]byte(": ping\n\nid: 1\ndata: {\"a\":1}\n\n"), uint8(3))
	f.Add([]byte(":a\r:b\r\n\r\n:c"), uint8(1))
	f.Fuzz(func(t *testing.T, b []byte, split uint8) {
		var want uint64
		for line := range strings.Lines(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(b))) {
			if strings.HasPrefix(line, ":") {
				want++
			}
		}
		k := int(split) % (len(b) + 1)
		start := true
		got := countComments(b[:k], &start)
		got += countComments(b[k:], &start)
		if got != want {
			t.Fatalf("split at %d: counted %d, want %d", k, got, want)
		}
	})
}
