package bench

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestScanStamps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  string
		want []stamp
	}{
		{"as published", `{"lg_ts":1764100000123456,"lg_i":7,"pad":"xxxx"}`, []stamp{{7, 1764100000123456}}},
		{"wrapped and re-encoded", `{"topic": "t", "data": {"lg_ts": 12, "lg_i": 3, "pad": "xx"}}`, []stamp{{3, 12}}},
		{"sorted keys", `{"data":{"lg_i":4,"lg_ts":99,"pad":"x"},"offset":4}`, []stamp{{4, 99}}},
		{"newlines", "{\"lg_ts\" :\n 5 ,\n \"lg_i\"\t: 6}", []stamp{{6, 5}}},
		{"escaped in a string", `{"data":"{\"lg_ts\":8,\"lg_i\":9,\"pad\":\"x\"}"}`, []stamp{{9, 8}}},
		{"several (a recovery)", `{"publications":[{"data":{"lg_ts":1,"lg_i":1}},{"data":{"lg_ts":2,"lg_i":2}}]}`,
			[]stamp{{1, 1}, {2, 2}}},
		{"none: a ping", `{}`, nil},
		{"none: twinstream's wire", `{"type":"event","topic":"t","seq":1,"event":"tick","ts":5,"data":{"e":0,"s":5,"p":"x"}}`, nil},
		{"half a stamp", `{"lg_ts":1,"pad":"x"}`, nil},
		{"a lone key then a full stamp", `{"lg_ts":1}{"lg_ts":2,"lg_i":3}`, []stamp{{3, 2}}},
		{"not a key", `{"xlg_ts":1,"lg_id":2,"lg_tsx":3}`, nil},
		{"not a number", `{"lg_ts":"1","lg_i":2}`, nil},
		{"too long a number", `{"lg_ts":1234567890123456789012,"lg_i":2}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []stamp
			n := scanStamps([]byte(tt.msg), func(s stamp) { got = append(got, s) })
			if n != len(got) || !slices.Equal(got, tt.want) {
				t.Errorf("scanStamps(%s) = %v (%d), want %v", tt.msg, got, n, tt.want)
			}
		})
	}
}

func TestStampPayload(t *testing.T) {
	t.Parallel()
	at := time.UnixMicro(1764100000123456)
	for _, size := range []int{0, 40, 100, 1000} {
		p := StampPayload(42, at, size)
		if size >= 60 && len(p) != size {
			t.Errorf("size %d: %d bytes", size, len(p))
		}
		var v struct {
			TS  int64  `json:"lg_ts"`
			I   uint64 `json:"lg_i"`
			Pad string `json:"pad"`
		}
		if err := json.Unmarshal(p, &v); err != nil || v.TS != at.UnixMicro() || v.I != 42 {
			t.Errorf("size %d: %s decodes to %+v, %v", size, p, v, err)
		}
	}
}

// A stamped event goes through the same accounting as a twinstream one:
// its index is the seq, its lg_ts both latencies.
func TestSubStamped(t *testing.T) {
	t.Parallel()
	rec := NewRecorder(0)
	sub := rec.NewSub(0, 0, []string{"t"})
	now := time.Now()
	for _, i := range []uint64{1, 2, 2, 4, 3} {
		sub.Stamped("t", stamp{i, now.Add(-10 * time.Millisecond).UnixMicro()}, now)
	}
	sub.NoteReset()
	got := sub.Tally([]Window{{Topic: "t", From: 1, To: 5}})
	want := Tally{Expected: 5, Delivered: 4, Lost: 1, Duplicates: 1, OutOfOrder: 1, Resets: 1}
	if got != want {
		t.Errorf("tally %+v, want %+v", got, want)
	}
	if n := rec.Total().TotalCount(); n != 4 || rec.FromSchedule().TotalCount() != 4 {
		t.Errorf("%d latencies, %d from schedule, want 4 each", n, rec.FromSchedule().TotalCount())
	}
	if p := rec.Total().ValueAtPercentile(50); p < 9000 || p > 11000 {
		t.Errorf("p50 %d µs, want about 10,000", p)
	}
}

// A stamped target's failed publish is expected of no one.
func TestSplitWindow(t *testing.T) {
	t.Parallel()
	w := Window{Topic: "t", From: 1, To: 10}
	got := splitWindow(w, []uint64{5, 1, 11, 6})
	want := []Window{{Topic: "t", From: 2, To: 4}, {Topic: "t", From: 7, To: 10}}
	if !slices.Equal(got, want) {
		t.Errorf("split %v, want %v", got, want)
	}
}

// FuzzScanStamps: any bytes are safe, and a stamp wrapped in any JSON
// text around it is found exactly once.
func FuzzScanStamps(f *testing.F) {
	f.Add([]byte(`{"topic":"t","data":`), []byte(`}`), uint64(1), int64(1764100000123456), 60)
	f.Add([]byte(`{"lg_ts":`), []byte(`"lg_i"`), uint64(0), int64(-5), 0)
	f.Add([]byte(`\"`), []byte(`,"lg_`), uint64(1<<62), int64(1), 2000)
	f.Fuzz(func(t *testing.T, before, after []byte, i uint64, ts int64, size int) {
		scanStamps(before, func(stamp) {})
		if i > 1<<59 || ts <= 0 || ts > 1<<55 || size < 0 || size > 1<<14 ||
			bytes.Contains(before, []byte("lg_")) || bytes.Contains(after, []byte("lg_")) {
			return
		}
		msg := slices.Concat(before, StampPayload(i, time.UnixMicro(ts), size), after)
		var got []stamp
		scanStamps(msg, func(s stamp) { got = append(got, s) })
		if len(got) != 1 || got[0] != (stamp{i, ts}) {
			t.Fatalf("scanStamps(%q) = %v, want [{%d %d}]", msg, got, i, ts)
		}
	})
}
