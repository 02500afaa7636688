package bench

import (
	"testing"
	"time"
)

func TestMissesLimit(t *testing.T) {
	t.Parallel()
	ok := &TransportResult{Expected: 100, Delivered: 100, LatencyFromScheduleMS: Percentiles{Count: 100, P99: 999}, Publisher: &Publisher{}}
	if why := missesLimit(ok, time.Second); why != "" {
		t.Errorf("a step within the limit missed it: %s", why)
	}
	for _, tc := range []struct {
		name string
		tr   *TransportResult
		want string
	}{
		{"nothing measured", nil, "nothing was expected (no event published?)"},
		{"nothing expected", &TransportResult{}, "nothing was expected (no event published?)"},
		{"lost", &TransportResult{Expected: 100, Delivered: 97, Lost: 3}, "3 of 100 deliveries missing"},
		{"publish failed", &TransportResult{Expected: 100, Delivered: 100, Publisher: &Publisher{Errors: 2}}, "2 publish requests failed"},
		{"late", &TransportResult{Expected: 100, Delivered: 100, LatencyFromScheduleMS: Percentiles{P99: 1500}}, "p99 latency from schedule 1500 ms > 1s"},
	} {
		if got := missesLimit(tc.tr, time.Second); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
