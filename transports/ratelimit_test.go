package transports_test

import (
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

func TestCommandLimit(t *testing.T) {
	l := transports.NewCommandLimit(transports.Rate{PerSecond: 0.001, Burst: 3})
	var got []transports.Verdict
	for range 7 {
		got = append(got, l.Allow())
	}
	want := []transports.Verdict{
		transports.Allowed, transports.Allowed, transports.Allowed, // the burst
		transports.Refused, transports.Refused, transports.Refused, // the grace: as many as the burst
		transports.Exceeded,
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("verdicts %v, want %v", got, want)
		}
	}
	var off *transports.CommandLimit = transports.NewCommandLimit(transports.Rate{})
	if off != nil || off.Allow() != transports.Allowed {
		t.Fatal("a zero rate must allow everything")
	}
}

func TestIPRate(t *testing.T) {
	l := transports.NewIPRate(transports.Rate{PerSecond: 1, Burst: 2})
	for i := range 2 {
		if ok, _ := l.Allow("10.0.0.1"); !ok {
			t.Fatalf("call %d refused within the burst", i)
		}
	}
	ok, retry := l.Allow("10.0.0.1")
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("over the burst: ok %v, retry after %v; want refused, within 1s", ok, retry)
	}
	if ok, _ := l.Allow("10.0.0.2"); !ok {
		t.Fatal("another IP has a bucket of its own")
	}
	if l.Len() != 2 {
		t.Fatalf("Len = %d, want 2", l.Len())
	}
	var none *transports.IPRate = transports.NewIPRate(transports.Rate{})
	if ok, _ := none.Allow("x"); none != nil || !ok {
		t.Fatal("a zero rate must allow everything")
	}
}
