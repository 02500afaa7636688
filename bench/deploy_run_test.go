package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
)

// runDeployFanout runs a small fanout against the demo server built from
// this checkout, with cfg's deployment options.
func runDeployFanout(t *testing.T, scenario string, tweak func(*bench.Config)) *bench.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin, err := bench.BuildServer(ctx, bench.ModuleDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := bench.Defaults(scenario)
	c.ServerBin, c.InProcess, c.Procs, c.NoFloor = bin, true, 1, true
	c.Subscribers, c.Rate, c.Duration, c.Drain = []int{12}, 5, bench.Duration(time.Second), bench.Duration(10*time.Second)
	tweak(&c)
	r := &bench.Runner{Config: c}
	res, err := r.Run(ctx, scenario)
	if err != nil {
		t.Fatal(err)
	}
	for name, tr := range res.Transports {
		if tr.Lost != 0 || tr.Delivered == 0 || tr.Delivered != tr.Expected {
			t.Errorf("%s: expected %d, delivered %d, lost %d", name, tr.Expected, tr.Delivered, tr.Lost)
		}
		if tr.Wire == nil || tr.Wire.BytesPerEvent <= 0 {
			t.Errorf("%s: no wire bytes: %+v", name, tr.Wire)
		}
	}
	return res
}

// SSE over HTTP/2 beside SSE over HTTP/1.1 and WebSocket, all over TLS:
// every stream of a worker shares one TCP connection; the wire shows
// HTTP/2 frames and TLS records.
func TestFanoutSSEOverHTTP2(t *testing.T) {
	res := runDeployFanout(t, bench.ScenarioFanout, func(c *bench.Config) { c.SSEHTTP = []int{1, 2} })
	h1, h2, ws := res.Transports[bench.SSE], res.Transports[bench.SSEH2], res.Transports[bench.WS]
	if h1 == nil || h2 == nil || ws == nil {
		t.Fatalf("transports %v, want sse, sse-h2 and ws", keys(res.Transports))
	}
	if h2.Wire.TCPConnections != 1 || h1.Wire.TCPConnections < 12 {
		t.Errorf("TCP connections: sse-h2 %d (want 1), sse %d (want 12)", h2.Wire.TCPConnections, h1.Wire.TCPConnections)
	}
	if h2.Wire.H2FramingPerEvent <= 0 || h2.Wire.ChunkedPerEvent != 0 || h1.Wire.ChunkedPerEvent <= 0 {
		t.Errorf("framing: sse-h2 %+v, sse %+v", h2.Wire, h1.Wire)
	}
	for name, tr := range res.Transports {
		if tr.Wire.TLSPerEvent <= 0 || tr.Wire.Totals.TLSHandshake == 0 {
			t.Errorf("%s: not over TLS: %+v", name, tr.Wire)
		}
	}
}

// The compression scenario: the compressed legs' bytes on the wire are
// smaller than the payload, the uncompressed legs' are not.
func TestCompressionScenario(t *testing.T) {
	res := runDeployFanout(t, bench.ScenarioCompression, func(c *bench.Config) { c.Payload = bench.PayloadDoc2K })
	if len(res.Sweep) != 1 || res.Sweep[0].Payload != bench.PayloadDoc2K {
		t.Fatalf("steps %+v", res.Sweep)
	}
	for _, name := range bench.CompressionLegs {
		tr := res.Transports[name]
		if tr == nil {
			t.Fatalf("no %s leg (got %v)", name, keys(res.Transports))
		}
		w := tr.Wire
		compressed := name != bench.WS && name != bench.SSE
		if compressed != (w.CompressedPerEvent > 0) || compressed != (w.BytesPerEvent < w.PayloadBytesPerEvent) {
			t.Errorf("%s: %.0f bytes per event on the wire for a %.0f-byte payload, %.0f compressed", name, w.BytesPerEvent, w.PayloadBytesPerEvent, w.CompressedPerEvent)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
