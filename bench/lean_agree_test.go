package bench

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// TestLeanAgreesWithProduct runs a small fanout against a spawned demo
// server with both kinds of client at once, on the same topic and the
// same publisher: 200 lean and 200 product subscribers per transport, 10
// events/s for 3 s, with heartbeats every 300 ms and a 1.5 s idle timeout
// on the server, so a client that did not answer pings would be dropped.
// Both must connect every client, receive every event once and agree on
// what was expected.
func TestLeanAgreesWithProduct(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and spawns the demo server")
	}
	ctx := context.Background()
	bin, err := BuildServer(ctx, ModuleDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{WS, SSE} {
		t.Run(transport, func(t *testing.T) {
			proc, err := spawnServer(ctx, bin, "127.0.0.1:0", []string{"--log-level", "warn", "--heartbeat", "300ms", "--idle-timeout", "1500ms"})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = proc.stop(10 * time.Second) }()
			const n = 200
			topics := topicNames("agree", 1)
			clients := []string{ClientProduct, ClientLean}
			workers := make([]*worker, len(clients))
			for i, client := range clients {
				w, err := newWorker(ctx, WorkerSpec{Worker: i, Transport: transport, Targets: []string{proc.url},
					Streams: streamsFor(transport, topics), Count: n, Client: client, ProgressEvery: Duration(time.Hour),
					ConnectRate: 2000}, &lockedEncoder{enc: json.NewEncoder(io.Discard)})
				if err != nil {
					t.Fatal(err)
				}
				defer w.stop()
				w.start()
				workers[i] = w
			}
			deadline := time.Now().Add(30 * time.Second)
			for _, w := range workers {
				for w.settled.Load() < n && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			if !settleServer(ctx, []*target{newTarget(proc.url, proc)}, transport, 2*n, 15*time.Second) {
				t.Fatalf("the server does not hold %d %s connections", 2*n, transport)
			}
			pub := newPublisher([]string{proc.url}, topics, 10, 100)
			pub.run(ctx, 3*time.Second)
			windows := pub.Windows()
			var res [2]*WorkerResult
			for i, w := range workers {
				res[i] = w.finish(ctx, windows, 10*time.Second)
			}
			if st := pub.stats(); st.Published != 30 || st.Errors != 0 {
				t.Fatalf("publisher %+v", st)
			}
			for i, r := range res {
				tl := r.Tally
				if tl.Expected != n*30 || tl.Delivered != tl.Expected || tl.Lost != 0 || tl.Duplicates != 0 || tl.OutOfOrder != 0 || !r.Drained {
					t.Errorf("%s: tally %+v, drained %v", clients[i], tl, r.Drained)
				}
				if r.Established != n || r.Peak != n || r.Failed != 0 || len(r.Failures) != 0 || r.Reconnects != 0 || len(r.Disconnects) != 0 {
					t.Errorf("%s: established %d peak %d failed %d %v reconnects %d disconnects %v",
						clients[i], r.Established, r.Peak, r.Failed, r.Failures, r.Reconnects, r.Disconnects)
				}
				lat, err := DecodeHist(r.LatencyHDR)
				if err != nil || lat.TotalCount() != int64(tl.Delivered) {
					t.Errorf("%s: %v latencies for %d deliveries (%v)", clients[i], lat.TotalCount(), tl.Delivered, err)
					continue
				}
				t.Logf("%s: delivered %d, latency p50 %d µs, p99 %d µs", clients[i], tl.Delivered, lat.ValueAtPercentile(50), lat.ValueAtPercentile(99))
			}
			if res[0].Tally != res[1].Tally {
				t.Errorf("product %+v, lean %+v", res[0].Tally, res[1].Tally)
			}
		})
	}
}
