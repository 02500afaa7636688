package bench_test

import (
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
)

// FuzzPayloadMeta: the cheap reader never panics, and reads back what
// Payload wrote.
func FuzzPayloadMeta(f *testing.F) {
	f.Add([]byte(`{"e":1,"s":1732560000000000,"p":"xx"}`), 3, int64(1732560000000000), 50)
	f.Add([]byte(`{"e":`), 0, int64(0), 0)
	f.Add([]byte(`{"e":99999999999999999999999,"s":-1}`), 7, int64(1), 1000)
	f.Fuzz(func(t *testing.T, data []byte, epoch int, micros int64, size int) {
		bench.PayloadMeta(data)
		if epoch < 0 || micros <= 0 || micros > 1<<52 || size < 0 || size > 1<<16 {
			return
		}
		p := bench.Payload(epoch, time.UnixMicro(micros), size)
		e, s := bench.PayloadMeta(p)
		if e != epoch || s != micros {
			t.Fatalf("Payload(%d, %d) = %s read back as %d, %d", epoch, micros, p, e, s)
		}
		if len(p) < size {
			t.Fatalf("Payload(size %d) is %d bytes", size, len(p))
		}
	})
}

// FuzzSeqTracker: the gap bookkeeping agrees with a set, whatever the order.
func FuzzSeqTracker(f *testing.F) {
	f.Add([]byte{1, 2, 3, 5, 4, 4, 9})
	f.Add([]byte{9, 1, 200, 3})
	f.Fuzz(func(t *testing.T, seqs []byte) {
		var tr bench.SeqTracker
		set := map[uint64]bool{}
		var dups uint64
		for _, b := range seqs {
			s := uint64(b)
			if set[s] {
				dups++
			}
			set[s] = true
			tr.Observe(s)
		}
		if d, _, _ := tr.Counts(); d != dups || tr.Unique() != uint64(len(set)) {
			t.Fatalf("%v: dups %d (want %d), unique %d (want %d)", seqs, d, dups, tr.Unique(), len(set))
		}
		for _, w := range [][2]uint64{{0, 255}, {10, 20}, {100, 101}} {
			var want uint64
			for s := w[0]; s <= w[1]; s++ {
				if set[s] {
					want++
				}
			}
			if got := tr.Received(w[0], w[1]); got != want {
				t.Fatalf("%v: Received(%d,%d) = %d, want %d", seqs, w[0], w[1], got, want)
			}
		}
	})
}
