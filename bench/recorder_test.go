package bench_test

import (
	"sync"
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/transports"
)

func ev(topic string, seq uint64, kind string, data []byte, ts time.Time) transports.WireEvent {
	return transports.WireEvent{Type: "event", Topic: topic, Seq: seq, Event: kind, TS: ts.UnixMicro(), Data: data}
}

func TestSubTally(t *testing.T) {
	t.Parallel()
	base := time.Unix(1_700_000_000, 0)
	p0 := bench.Payload(0, base, 100)
	p1 := bench.Payload(1, base, 100)
	type recv struct {
		topic string
		seq   uint64
		kind  string
		data  []byte
	}
	msg := func(topic string, seq uint64) recv { return recv{topic, seq, "message", p0} }
	tests := []struct {
		name    string
		topics  []string
		recvs   []recv
		windows []bench.Window
		want    bench.Tally
	}{
		{
			name: "all delivered", topics: []string{"a"},
			recvs:   []recv{msg("a", 1), msg("a", 2), msg("a", 3)},
			windows: []bench.Window{{Topic: "a", From: 1, To: 3}},
			want:    bench.Tally{Expected: 3, Delivered: 3},
		},
		{
			name: "loss", topics: []string{"a"},
			recvs:   []recv{msg("a", 1), msg("a", 3)},
			windows: []bench.Window{{Topic: "a", From: 1, To: 4}},
			want:    bench.Tally{Expected: 4, Delivered: 2, Lost: 2},
		},
		{
			name: "duplicate after resume", topics: []string{"a"},
			recvs:   []recv{msg("a", 1), msg("a", 2), msg("a", 2), msg("a", 3)},
			windows: []bench.Window{{Topic: "a", From: 1, To: 3}},
			want:    bench.Tally{Expected: 3, Delivered: 3, Duplicates: 1},
		},
		{
			name: "reorder", topics: []string{"a"},
			recvs:   []recv{msg("a", 2), msg("a", 1), msg("a", 3)},
			windows: []bench.Window{{Topic: "a", From: 1, To: 3}},
			want:    bench.Tally{Expected: 3, Delivered: 3, OutOfOrder: 1},
		},
		{
			name: "reset event is counted, not delivered", topics: []string{"a"},
			recvs:   []recv{msg("a", 1), {"a", 900, transports.KindReset, []byte(`{"reason":"history_expired"}`)}, msg("a", 901)},
			windows: []bench.Window{{Topic: "a", From: 1, To: 901}},
			want:    bench.Tally{Expected: 901, Delivered: 2, Lost: 899, Resets: 1},
		},
		{
			name: "server restart starts a new epoch", topics: []string{"a"},
			recvs: []recv{msg("a", 1), msg("a", 2), {"a", 0, transports.KindReset, []byte(`{"reason":"cursor_ahead"}`)},
				{"a", 1, "message", p1}, {"a", 2, "message", p1}},
			windows: []bench.Window{{Topic: "a", Epoch: 0, From: 1, To: 3}, {Topic: "a", Epoch: 1, From: 1, To: 2}},
			want:    bench.Tally{Expected: 5, Delivered: 4, Lost: 1, Resets: 1},
		},
		{
			name: "windows of other topics and targets do not apply", topics: []string{"a"},
			recvs:   []recv{msg("a", 1)},
			windows: []bench.Window{{Topic: "a", From: 1, To: 1}, {Topic: "b", From: 1, To: 9}, {Target: 1, Topic: "a", From: 1, To: 9}},
			want:    bench.Tally{Expected: 1, Delivered: 1},
		},
		{
			name: "nothing received", topics: []string{"a", "b"},
			windows: []bench.Window{{Topic: "a", From: 1, To: 5}, {Topic: "b", From: 3, To: 4}},
			want:    bench.Tally{Expected: 7, Lost: 7},
		},
		{
			name: "snapshot starts the stream", topics: []string{"task:1"},
			recvs:   []recv{{"task:1", 4, transports.KindSnapshot, []byte(`{}`)}, {"task:1", 5, "progress", []byte(`{}`)}},
			windows: []bench.Window{{Topic: "task:1", From: 4, To: 5}},
			want:    bench.Tally{Expected: 2, Delivered: 2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := bench.NewRecorder(0)
			sub := rec.NewSub(0, 0, tc.topics)
			for _, r := range tc.recvs {
				sub.Event(ev(r.topic, r.seq, r.kind, r.data, base), base.Add(time.Millisecond))
			}
			if got := sub.Tally(tc.windows); got != tc.want {
				t.Errorf("Tally = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRecorderLatency(t *testing.T) {
	t.Parallel()
	rec := bench.NewRecorder(0)
	base := time.Unix(1_700_000_000, 0)
	const subs = 8
	var wg sync.WaitGroup
	for i := range subs {
		sub := rec.NewSub(i, 0, []string{"t"})
		wg.Go(func() {
			for seq := uint64(1); seq <= 100; seq++ {
				ts := base.Add(time.Duration(seq) * time.Second)
				sched := ts.Add(-time.Millisecond) // the publisher was 1 ms late
				// latency: seq ms for seq 1..100
				sub.Event(ev("t", seq, "message", bench.Payload(0, sched, 64), ts), ts.Add(time.Duration(seq)*time.Millisecond))
			}
			sub.Event(ev("t", 100, "message", nil, base), base.Add(time.Hour)) // duplicate: not a delivery
		})
	}
	wg.Wait()
	if got := rec.Deliveries(); got != subs*100 {
		t.Fatalf("Deliveries = %d, want %d", got, subs*100)
	}
	p := bench.PercentilesOf(rec.Total())
	if p.Count != subs*100 || p.P50 < 49.9 || p.P50 > 50.1 || p.P99 < 98.9 || p.P99 > 99.1 || p.Max < 99.9 || p.Max > 100.1 {
		t.Errorf("latency percentiles = %+v, want count 800, p50 50, p99 99, max 100", p)
	}
	s := bench.PercentilesOf(rec.FromSchedule())
	if s.P50 < 50.9 || s.P50 > 51.1 || s.Max < 100.9 || s.Max > 101.1 {
		t.Errorf("from-schedule percentiles = %+v, want p50 51, max 101", s)
	}
	w := rec.TakeWindow()
	if w.TotalCount() != subs*100 {
		t.Errorf("first window has %d values, want %d", w.TotalCount(), subs*100)
	}
	if w := rec.TakeWindow(); w.TotalCount() != 0 {
		t.Errorf("second window has %d values, want 0", w.TotalCount())
	}
	if got, want := rec.LastDelivery(), base.Add(100*time.Second+100*time.Millisecond); !got.Equal(want) {
		t.Errorf("LastDelivery = %v, want %v", got, want)
	}
}

func TestRecorderCorrected(t *testing.T) {
	t.Parallel()
	// A closed-loop requester expecting one value per 10 ms that saw one
	// 100 ms stall: the correction adds the 9 values it would have taken.
	rec := bench.NewRecorder(10 * time.Millisecond)
	now := time.Now()
	rec.Record(0, 100*time.Millisecond, -1, now)
	if got := rec.Total().TotalCount(); got != 10 {
		t.Errorf("corrected count = %d, want 10", got)
	}
	raw := bench.NewRecorder(0)
	raw.Record(0, 100*time.Millisecond, -1, now)
	if got := raw.Total().TotalCount(); got != 1 {
		t.Errorf("raw count = %d, want 1", got)
	}
}

func TestHistRoundTrip(t *testing.T) {
	t.Parallel()
	a, b := bench.NewHist(), bench.NewHist()
	for i := int64(1); i <= 1000; i++ {
		_ = a.RecordValue(i)
		_ = b.RecordValue(i * 1000)
	}
	ea, err := bench.EncodeHist(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := bench.EncodeHist(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bench.MergeHists(ea, eb, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.TotalCount() != 2000 {
		t.Fatalf("merged count = %d, want 2000", m.TotalCount())
	}
	p := bench.PercentilesOf(m)
	if p.P50 < 0.99 || p.P50 > 1.01 || p.Max < 999 || p.Max > 1001 {
		t.Errorf("merged percentiles = %+v, want p50 ≈ 1 ms, max ≈ 1000 ms", p)
	}
	if _, err := bench.DecodeHist("not a histogram"); err == nil {
		t.Error("DecodeHist accepted garbage")
	}
	cdf := bench.CDF(m)
	for i := 1; i < len(cdf); i++ {
		if cdf[i].MS < cdf[i-1].MS || cdf[i].P <= cdf[i-1].P {
			t.Fatalf("CDF not monotonic at %d: %+v", i, cdf)
		}
	}
	if bench.CDF(bench.NewHist()) != nil || bench.PercentilesOf(nil).Count != 0 {
		t.Error("empty histogram should give no CDF and zero percentiles")
	}
}

func TestPayload(t *testing.T) {
	t.Parallel()
	sched := time.UnixMicro(1_732_560_000_123_456)
	for _, size := range []int{0, 10, 45, 100, 1000} {
		p := bench.Payload(7, sched, size)
		if size >= 45 && len(p) != size {
			t.Errorf("Payload(size %d) is %d bytes", size, len(p))
		}
		if err := transports.ValidData(p); err != nil {
			t.Errorf("Payload(size %d) = %s: %v", size, p, err)
		}
		e, s := bench.PayloadMeta(p)
		if e != 7 || s != sched.UnixMicro() {
			t.Errorf("PayloadMeta(%s) = %d, %d", p, e, s)
		}
	}
	for _, data := range []string{``, `{}`, `{"e":`, `{"x":1}`, `{"e":3}`} {
		e, s := bench.PayloadMeta([]byte(data))
		if s != 0 || (data == `{"e":3}`) != (e == 3) {
			t.Errorf("PayloadMeta(%q) = %d, %d", data, e, s)
		}
	}
}
