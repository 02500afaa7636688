package bench_test

import (
	"fmt"
	"time"

	"github.com/twinstream/twinstream/bench"
)

// A subscriber's sequence numbers, checked against what the publisher sent
// (seqs 1–6): one lost, one duplicated, one late.
func ExampleSeqTracker() {
	var t bench.SeqTracker
	for _, seq := range []uint64{1, 2, 4, 3, 3, 6} {
		fmt.Println(seq, t.Observe(seq))
	}
	dups, late, _ := t.Counts()
	received := t.Received(1, 6)
	fmt.Printf("received %d of 6, lost %d, duplicates %d, out of order %d\n", received, 6-received, dups, late)
	// Output:
	// 1 in_order
	// 2 in_order
	// 4 gap
	// 3 late
	// 3 duplicate
	// 6 gap
	// received 5 of 6, lost 1, duplicates 1, out of order 1
}

// The publisher's payload carries the server epoch and its scheduled
// publish time, read back cheaply by every subscriber.
func ExamplePayload() {
	scheduled := time.UnixMicro(1_732_560_000_000_000)
	p := bench.Payload(1, scheduled, 64)
	epoch, sched := bench.PayloadMeta(p)
	fmt.Println(len(p), epoch, sched == scheduled.UnixMicro())
	// Output:
	// 64 1 true
}
