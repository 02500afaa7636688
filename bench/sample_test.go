package bench

import (
	"encoding/json"
	"os"
	"testing"
	"time"
)

func TestPerDelivery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		total float64
		n     uint64
		want  float64
	}{
		{1e6, 100_000, 10},        // 1 s of CPU over 100,000 deliveries: 10 µs each
		{2e6 / 3, 100_000, 6.667}, // 4 significant digits
		{123, 1_000_000, 0.000123},
		{50_100, 50_000, 1.002}, // write syscalls: a little over one per delivery
		{0, 10, 0},              // nothing measured
		{-5, 10, 0},             // a counter that went backwards (restart)
		{10, 0, 0},              // no deliveries
	} {
		if got := perDelivery(tc.total, tc.n); got != tc.want {
			t.Errorf("perDelivery(%v, %d) = %v, want %v", tc.total, tc.n, got, tc.want)
		}
	}
}

func TestSetCosts(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	a := costMark{at: t0, haveServer: true, server: procSample{CPUSeconds: 10, Allocs: 1_000_000},
		syscw: 5_000, haveSyscw: true, loadgen: 20}
	b := costMark{at: t0.Add(12500 * time.Millisecond), haveServer: true, server: procSample{CPUSeconds: 11.5, Allocs: 1_050_000},
		syscw: 105_000, haveSyscw: true, loadgen: 22}
	tr := &TransportResult{Delivered: 100_000}
	tr.setCosts(a, b)
	if tr.ServerCPUUsPerDelivery != 15 || tr.LoadgenCPUUsPerDelivery != 20 || tr.ServerWriteSyscallsPerDelivery != 1 ||
		tr.ServerAllocsPerDelivery != 0.5 || tr.CostWindowS != 12.5 {
		t.Errorf("costs %+v", tr)
	}
	// A --target: no syscw, no allocs in its /metrics.
	a.haveSyscw, b.haveSyscw, a.server.Allocs, b.server.Allocs = false, false, 0, 0
	tr = &TransportResult{Delivered: 100_000}
	tr.setCosts(a, b)
	if tr.ServerCPUUsPerDelivery != 15 || tr.ServerWriteSyscallsPerDelivery != 0 || tr.ServerAllocsPerDelivery != 0 {
		t.Errorf("target costs %+v", tr)
	}
	js, _ := json.Marshal(tr)
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server_write_syscalls_per_delivery", "server_allocs_per_delivery"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present though not measured: %s", k, js)
		}
	}
	for _, k := range []string{"server_cpu_us_per_delivery", "loadgen_cpu_us_per_delivery"} {
		if _, ok := m[k]; !ok {
			t.Errorf("%s missing: %s", k, js)
		}
	}
	// Nothing delivered: no figure at all.
	tr = &TransportResult{}
	tr.setCosts(a, costMark{at: t0.Add(time.Second), haveServer: true, server: procSample{CPUSeconds: 12}, loadgen: 21})
	if tr.ServerCPUUsPerDelivery != 0 || tr.LoadgenCPUUsPerDelivery != 0 {
		t.Errorf("costs without deliveries %+v", tr)
	}
}

func TestExpectedDeliveries(t *testing.T) {
	t.Parallel()
	streams := []StreamSpec{{Path: "/ws?topic=a", Topics: []string{"a"}}, {Path: "/ws?topic=b", Topics: []string{"b"}}}
	// 5 clients over two workers, two topics: clients 0, 2, 4 follow a, 1 and 3 follow b.
	specs := []WorkerSpec{
		{Targets: []string{"http://x"}, Streams: streams, First: 0, Count: 3},
		{Targets: []string{"http://x"}, Streams: streams, First: 3, Count: 2},
	}
	windows := []Window{{Topic: "a", From: 1, To: 10}, {Topic: "b", From: 5, To: 6}, {Topic: "c", From: 1, To: 100}}
	if got, want := expectedDeliveries(specs, windows), uint64(3*10+2*2); got != want {
		t.Errorf("expectedDeliveries = %d, want %d", got, want)
	}
	// Two targets: clients alternate targets first, then streams.
	two := []WorkerSpec{{Targets: []string{"http://x", "http://y"}, Streams: streams[:1], First: 0, Count: 4}}
	w2 := []Window{{Target: 0, Topic: "a", From: 1, To: 3}, {Target: 1, Topic: "a", From: 1, To: 7}}
	if got, want := expectedDeliveries(two, w2), uint64(2*3+2*7); got != want {
		t.Errorf("two targets: expectedDeliveries = %d, want %d", got, want)
	}
}

func TestWalkMetricsRuntime(t *testing.T) {
	t.Parallel()
	var v any
	raw := `{"rss_bytes":5000000,"heap_bytes":1000,"stacks_bytes":65536,"allocs_objects":123456,"goroutines":7,"cpu":{"total_s":1.5},"connections":{"ws":3}}`
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	var s procSample
	walkMetrics(v, &s)
	if s.RSS != 5_000_000 || s.HeapBytes != 1000 || s.StacksBytes != 65536 || s.Allocs != 123456 || s.Goroutines != 7 || s.CPUSeconds != 1.5 || s.Conns["ws"] != 3 {
		t.Errorf("walkMetrics: %+v", s)
	}
}

func TestHoldRSS(t *testing.T) {
	t.Parallel()
	h := holdRSS(procSample{RSS: 100_000_000}, procSample{RSS: 101_000_000}, 10_000)
	if h == nil || h.StartBytes != 100_000_000 || h.EndBytes != 101_000_000 || h.GrowthBytesPerConn != 100 {
		t.Errorf("holdRSS %+v", h)
	}
	if h := holdRSS(procSample{RSS: 5}, procSample{RSS: 5}, 10); h == nil || h.GrowthBytesPerConn != 0 {
		t.Errorf("flat hold %+v", h)
	}
	if h := holdRSS(procSample{}, procSample{RSS: 5}, 10); h != nil {
		t.Errorf("hold without a start figure %+v", h)
	}
}

// TestWriteSyscalls: syscw counts this process's write(2) calls.
func TestWriteSyscalls(t *testing.T) {
	t.Parallel()
	n, err := readWriteSyscalls(os.Getpid())
	if err != nil {
		t.Skipf("no /proc/self/io here: %v", err)
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if m, err := readWriteSyscalls(os.Getpid()); err != nil || m < n+3 {
		t.Errorf("syscw %d, then %d (%v) after 3 writes", n, m, err)
	}
}

func TestGCSettings(t *testing.T) {
	if got := (GCSettings{}).String(); got != "GOGC=100 (unset), GOMEMLIMIT=off (unset)" {
		t.Errorf("unset: %q", got)
	}
	if got := (GCSettings{GOGC: "200", GOMEMLIMIT: "1GiB"}).String(); got != "GOGC=200, GOMEMLIMIT=1GiB" {
		t.Errorf("set: %q", got)
	}
	g, ok := gcSettingsOf(os.Getpid()) // as this process started
	if !ok {
		t.Skip("no /proc/self/environ here")
	}
	if g.GOGC != os.Getenv("GOGC") || g.GOMEMLIMIT != os.Getenv("GOMEMLIMIT") {
		t.Errorf("gcSettingsOf(self) = %+v, environment GOGC=%q GOMEMLIMIT=%q", g, os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"))
	}
}
