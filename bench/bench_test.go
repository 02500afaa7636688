package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/ws"
)

// The benchmarks run the real hub and both transports on 127.0.0.1 with
// the real Go clients, all in this process: allocations and CPU include
// both ends.

// runClient starts one transport client; it runs until ctx ends.
func runClient(ctx context.Context, transport, url string, httpc *http.Client, onEvent func(transports.WireEvent), onOpen func()) func() error {
	switch transport {
	case bench.WS:
		c := ws.NewClient(ws.ClientConfig{URL: url, HTTPClient: httpc, OnEvent: onEvent, OnState: func(s ws.ClientState) {
			if s == ws.StateOpen && onOpen != nil {
				onOpen()
			}
		}})
		return func() error { return c.Run(ctx) }
	default:
		c := sse.NewClient(sse.ClientConfig{URL: url, HTTPClient: httpc, OnEvent: onEvent, OnState: func(s sse.ClientState) {
			if s == sse.StateConnected && onOpen != nil {
				onOpen()
			}
		}})
		return func() error { return c.Run(ctx) }
	}
}

type latencies struct {
	mu sync.Mutex
	h  *hdr.Histogram
}

func (l *latencies) record(d time.Duration) {
	l.mu.Lock()
	_ = l.h.RecordValue(max(int64(d/time.Microsecond), 1))
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b.ReportMetric(float64(l.h.ValueAtPercentile(50)), "p50-µs")
	b.ReportMetric(float64(l.h.ValueAtPercentile(99)), "p99-µs")
}

// BenchmarkFanout publishes one event per iteration to subs subscribers of
// one topic and stops the clock only when every subscriber has received
// it. ns/delivery is the time per event per subscriber; p50/p99 are the
// delivery latencies (receive − ts).
func BenchmarkFanout(b *testing.B) {
	for _, transport := range []string{bench.WS, bench.SSE} {
		for _, subs := range []int{100, 1000} {
			b.Run(fmt.Sprintf("transport=%s/subs=%d/size=100", transport, subs), func(b *testing.B) {
				benchFanout(b, transport, subs, 100)
			})
		}
	}
}

func benchFanout(b *testing.B, transport string, subs, size int) {
	srv := newTestServer(b)
	httpc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	defer httpc.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg        sync.WaitGroup
		delivered atomic.Int64
		want      atomic.Int64
		done      = make(chan struct{}, 1)
		lat       = &latencies{h: bench.NewHist()}
	)
	onEvent := func(e transports.WireEvent) {
		lat.record(time.Since(e.Time()))
		if delivered.Add(1) == want.Load() {
			done <- struct{}{}
		}
	}
	url := srv.URL + "/" + transport + "?topic=bench"
	for range subs {
		wg.Go(func() { _ = runClient(ctx, transport, url, httpc, onEvent, nil)() })
	}
	defer func() { cancel(); wg.Wait() }()
	srv.waitConns(b, transport, subs)
	data := bench.Payload(0, time.Now(), size)
	publish := func(i int) {
		want.Store(int64(i) * int64(subs))
		if _, err := srv.Hub.Publish(ctx, "bench", bench.EventKind, data); err != nil {
			b.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatalf("event %d: %d of %d deliveries after 30s", i, delivered.Load(), want.Load())
		}
	}
	publish(1) // warm-up: every connection has written once
	lat.h.Reset()
	b.ReportAllocs()
	b.SetBytes(int64(size * subs))
	b.ResetTimer()
	for i := range b.N {
		publish(i + 2)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subs), "ns/delivery")
	lat.report(b)
}

// BenchmarkConnect opens one stream per iteration and waits until it is
// established (WebSocket handshake done, SSE stream's first frame read),
// then closes it. p50/p99 are the connect times.
func BenchmarkConnect(b *testing.B) {
	for _, transport := range []string{bench.WS, bench.SSE} {
		b.Run("transport="+transport, func(b *testing.B) {
			srv := newTestServer(b)
			httpc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			defer httpc.CloseIdleConnections()
			url := srv.URL + "/" + transport + "?topic=connect"
			lat := &latencies{h: bench.NewHist()}
			b.ReportAllocs()
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				open := make(chan struct{}, 1)
				start := time.Now()
				run := runClient(ctx, transport, url, httpc, nil, func() {
					select {
					case open <- struct{}{}:
					default:
					}
				})
				ended := make(chan struct{})
				go func() { defer close(ended); _ = run() }()
				select {
				case <-open:
					lat.record(time.Since(start))
				case <-time.After(30 * time.Second):
					b.Fatal("no connection after 30s")
				}
				cancel()
				<-ended
			}
			lat.report(b)
		})
	}
}

// BenchmarkEncode measures the one encoding of an event's wire form at
// publish time (shared by every connection of both transports).
func BenchmarkEncode(b *testing.B) {
	for _, size := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			data := bench.Payload(0, time.Now(), size)
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var seq uint64
			for b.Loop() {
				seq++
				e := transports.NewEvent("bench-topic", seq, bench.EventKind, data, now)
				if len(e.JSON()) < size {
					b.Fatal("short wire form")
				}
			}
		})
	}
}

// BenchmarkDecode measures what every client does per event: decode the
// wire form.
func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			wire := transports.NewEvent("bench-topic", 1, bench.EventKind, bench.Payload(0, time.Now(), size), time.Now()).JSON()
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				var e transports.WireEvent
				if err := json.Unmarshal(wire, &e); err != nil || !strings.HasPrefix(string(e.Data), `{"e":0`) {
					b.Fatal(err)
				}
			}
		})
	}
}
