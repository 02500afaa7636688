package bench_test

import (
	"testing"

	"github.com/twinstream/twinstream/bench"
)

func TestSeqTracker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		seqs      []uint64
		from, to  uint64
		received  uint64
		dups, ooo uint64
		verdicts  []bench.Verdict // optional
		missing   uint64
	}{
		{name: "in order", seqs: []uint64{1, 2, 3, 4, 5}, from: 1, to: 5, received: 5,
			verdicts: []bench.Verdict{bench.InOrder, bench.InOrder, bench.InOrder, bench.InOrder, bench.InOrder}},
		{name: "nothing", seqs: nil, from: 1, to: 5, received: 0},
		{name: "loss in the middle", seqs: []uint64{1, 2, 5, 6}, from: 1, to: 6, received: 4, missing: 2,
			verdicts: []bench.Verdict{bench.InOrder, bench.InOrder, bench.Gap, bench.InOrder}},
		{name: "loss at the end", seqs: []uint64{1, 2, 3}, from: 1, to: 10, received: 3},
		{name: "loss at the start", seqs: []uint64{4, 5}, from: 1, to: 5, received: 2},
		{name: "duplicate of the last", seqs: []uint64{1, 2, 2, 3}, from: 1, to: 3, received: 3, dups: 1,
			verdicts: []bench.Verdict{bench.InOrder, bench.InOrder, bench.Duplicate, bench.InOrder}},
		{name: "duplicate of an old one", seqs: []uint64{1, 2, 3, 1}, from: 1, to: 3, received: 3, dups: 1},
		{name: "replayed range", seqs: []uint64{1, 2, 3, 4, 2, 3, 4, 5}, from: 1, to: 5, received: 5, dups: 3},
		{name: "swap", seqs: []uint64{1, 3, 2, 4}, from: 1, to: 4, received: 4, ooo: 1,
			verdicts: []bench.Verdict{bench.InOrder, bench.Gap, bench.Late, bench.InOrder}},
		{name: "late fills the middle of a gap", seqs: []uint64{1, 6, 3, 2, 5, 4}, from: 1, to: 6, received: 6, ooo: 4},
		{name: "late below the first", seqs: []uint64{5, 6, 3, 4}, from: 3, to: 6, received: 4, ooo: 2},
		{name: "late below the first leaves a gap", seqs: []uint64{5, 6, 2}, from: 1, to: 6, received: 3, ooo: 1, missing: 2},
		{name: "duplicate after late", seqs: []uint64{1, 3, 2, 2}, from: 1, to: 3, received: 3, ooo: 1, dups: 1},
		{name: "window inside", seqs: []uint64{1, 2, 3, 4, 5, 6, 7, 8}, from: 3, to: 5, received: 3},
		{name: "window with gaps", seqs: []uint64{1, 2, 4, 7, 8}, from: 2, to: 7, received: 3, missing: 3},
		{name: "events before the window are not counted", seqs: []uint64{1, 2, 3}, from: 10, to: 12, received: 0},
		{name: "empty window", seqs: []uint64{1}, from: 5, to: 4, received: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var tr bench.SeqTracker
			for i, s := range tc.seqs {
				v := tr.Observe(s)
				if tc.verdicts != nil && v != tc.verdicts[i] {
					t.Errorf("Observe(%d) #%d = %v, want %v", s, i, v, tc.verdicts[i])
				}
			}
			if got := tr.Received(tc.from, tc.to); got != tc.received {
				t.Errorf("Received(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.received)
			}
			dups, ooo, _ := tr.Counts()
			if dups != tc.dups || ooo != tc.ooo {
				t.Errorf("dups, out of order = %d, %d; want %d, %d", dups, ooo, tc.dups, tc.ooo)
			}
			if got := tr.Missing(); got != tc.missing && tc.missing != 0 {
				t.Errorf("Missing() = %d, want %d", got, tc.missing)
			}
		})
	}
}

// TestSeqTrackerRandom checks the gap bookkeeping against a set on shuffled,
// lossy, duplicated sequences.
func TestSeqTrackerRandom(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		r := newRand(seed)
		n := 1 + r.IntN(60)
		var seqs []uint64
		for s := uint64(1); s <= uint64(n); s++ {
			switch r.IntN(10) {
			case 0: // lost
			case 1:
				seqs = append(seqs, s, s) // duplicated
			default:
				seqs = append(seqs, s)
			}
		}
		for range r.IntN(5) { // a few swaps
			if len(seqs) > 1 {
				i := r.IntN(len(seqs) - 1)
				seqs[i], seqs[i+1] = seqs[i+1], seqs[i]
			}
		}
		var tr bench.SeqTracker
		set := map[uint64]bool{}
		var dups uint64
		for _, s := range seqs {
			if set[s] {
				dups++
			}
			set[s] = true
			tr.Observe(s)
		}
		from, to := uint64(1+r.IntN(n)), uint64(1+r.IntN(n))
		var want uint64
		for s := from; s <= to; s++ {
			if set[s] {
				want++
			}
		}
		if got := tr.Received(from, to); got != want {
			t.Fatalf("seed %d: seqs %v: Received(%d,%d) = %d, want %d", seed, seqs, from, to, got, want)
		}
		if d, _, _ := tr.Counts(); d != dups {
			t.Fatalf("seed %d: seqs %v: dups = %d, want %d", seed, seqs, d, dups)
		}
		if tr.Unique() != uint64(len(set)) {
			t.Fatalf("seed %d: Unique = %d, want %d", seed, tr.Unique(), len(set))
		}
	}
}
