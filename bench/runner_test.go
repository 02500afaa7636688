package bench_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
)

// smallConfig is a scenario at test size, against srv, with in-process
// workers.
func smallConfig(scenario, url string) bench.Config {
	c := bench.Defaults(scenario)
	c.Targets = []string{url}
	c.InProcess = true
	c.Procs = 2 // two workers: exercises the merge
	c.Subscribers = []int{20}
	c.Connections = 20
	c.Duration = bench.Duration(1500 * time.Millisecond)
	c.Hold = bench.Duration(500 * time.Millisecond)
	c.Settle = bench.Duration(500 * time.Millisecond)
	c.Drain = bench.Duration(10 * time.Second)
	c.Rate = 20
	return c
}

func TestRunnerFanout(t *testing.T) {
	srv := newTestServer(t)
	r := &bench.Runner{Config: smallConfig(bench.ScenarioFanout, srv.URL)}
	r.Config.Topics = 2
	res, err := r.Run(context.Background(), bench.ScenarioFanout)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		if tr == nil {
			t.Fatalf("no %s result", name)
		}
		if tr.Expected == 0 || tr.Lost != 0 || tr.Duplicates != 0 || tr.OutOfOrder != 0 || tr.Delivered != tr.Expected {
			t.Errorf("%s: expected %d delivered %d lost %d dup %d ooo %d", name, tr.Expected, tr.Delivered, tr.Lost, tr.Duplicates, tr.OutOfOrder)
		}
		// Every subscriber follows one of 2 topics; each got every event of it.
		if tr.Publisher == nil || tr.Expected != uint64(tr.Publisher.Published/2*20) && tr.Expected != uint64(tr.Publisher.Published*10) {
			t.Errorf("%s: expected %d deliveries for %+v published on 2 topics to 20 subscribers", name, tr.Expected, tr.Publisher)
		}
		// 20 events/s for 1.5 s on each of 2 topics, every one published.
		if p := tr.Publisher; p == nil || p.Scheduled != 60 || p.Published != 60 || p.Errors != 0 {
			t.Errorf("%s: publisher %+v, want 60 of 60 published", name, p)
		}
		if tr.LatencyMS.Count != int64(tr.Delivered) || tr.LatencyMS.P50 <= 0 || tr.LatencyMS.P99 < tr.LatencyMS.P50 || tr.LatencyMS.Max < tr.LatencyMS.P999 {
			t.Errorf("%s: latency %+v for %d deliveries", name, tr.LatencyMS, tr.Delivered)
		}
		if c := tr.Connections; c.Attempted != 20 || c.Established != 20 || c.Failed != 0 || c.Peak != 20 || c.Reconnects != 0 {
			t.Errorf("%s: connections %+v", name, c)
		}
		if tr.ConnectMS.Count != 20 || len(tr.LatencyCDF) == 0 || tr.DeliveriesPerS <= 0 {
			t.Errorf("%s: connect %+v, cdf %d points, %v deliveries/s", name, tr.ConnectMS, len(tr.LatencyCDF), tr.DeliveriesPerS)
		}
	}
	// The floor ran on the same workload: every record delivered once.
	fl := res.Floor
	if fl == nil {
		t.Fatal("no floor")
	}
	if fl.Expected != 60*10 || fl.Delivered != fl.Expected || fl.Lost != 0 || fl.Duplicates != 0 || fl.OutOfOrder != 0 {
		t.Errorf("floor: expected %d delivered %d lost %d dup %d ooo %d", fl.Expected, fl.Delivered, fl.Lost, fl.Duplicates, fl.OutOfOrder)
	}
	if fl.LatencyMS.Count != int64(fl.Delivered) || fl.LatencyFromScheduleMS.Count != int64(fl.Delivered) || fl.Connections.Established != 20 {
		t.Errorf("floor: latency %+v, from schedule %+v, connections %+v", fl.LatencyMS, fl.LatencyFromScheduleMS, fl.Connections)
	}
	if p := fl.Publisher; p == nil || p.Scheduled != 60 || p.Published != 60 {
		t.Errorf("floor: publisher %+v", p)
	}
	if fl.LoadgenCPUUsPerDelivery <= 0 || fl.CostWindowS <= 0 {
		t.Errorf("floor: loadgen CPU per delivery %v over %v s", fl.LoadgenCPUUsPerDelivery, fl.CostWindowS)
	}
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		if tr.LoadgenCPUUsPerDelivery <= 0 || tr.VsFloor == nil || tr.VsFloor.LatencyP99 <= 0 || tr.VsFloor.LoadgenCPU <= 0 {
			t.Errorf("%s: loadgen CPU per delivery %v, vs floor %+v", name, tr.LoadgenCPUUsPerDelivery, tr.VsFloor)
		}
	}
	if res.Env.GoVersion == "" || res.Env.Cores == 0 || res.Interrupted {
		t.Errorf("env %+v, interrupted %v", res.Env, res.Interrupted)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := bench.ReadResult(path)
	if err != nil || back.Transports[bench.WS].Delivered != res.Transports[bench.WS].Delivered {
		t.Fatalf("round trip: %v", err)
	}
}

func TestRunnerReconnect(t *testing.T) {
	srv := newTestServer(t)
	r := &bench.Runner{Config: smallConfig(bench.ScenarioReconnect, srv.URL)}
	res, err := r.Run(context.Background(), bench.ScenarioReconnect)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		rc := tr.Reconnect
		if rc == nil || rc.Dropped != 20 || rc.Back != 20 || rc.NotBack != 0 {
			t.Fatalf("%s: reconnect %+v", name, rc)
		}
		if tr.Connections.Reconnects != 20 || len(tr.Connections.Disconnects) == 0 {
			t.Errorf("%s: %d reconnections, disconnects %v", name, tr.Connections.Reconnects, tr.Connections.Disconnects)
		}
		if rc.P50MS <= 0 || rc.P50MS > rc.P99MS || rc.P99MS > rc.MaxMS || rc.PeakPer100ms < 1 || len(rc.Timeline) == 0 {
			t.Errorf("%s: reconnect %+v", name, rc)
		}
		if last := rc.Timeline[len(rc.Timeline)-1]; last.BackPct != 100 {
			t.Errorf("%s: timeline ends at %v%% back", name, last.BackPct)
		}
		if tr.Expected == 0 || tr.Lost != 0 || tr.Duplicates != 0 || rc.Lost != 0 {
			t.Errorf("%s: expected %d lost %d dup %d across the drop", name, tr.Expected, tr.Lost, tr.Duplicates)
		}
	}
}

func TestRunnerConnect(t *testing.T) {
	srv := newTestServer(t)
	r := &bench.Runner{Config: smallConfig(bench.ScenarioConnect, srv.URL)}
	r.Config.Transports = []string{bench.SSE}
	res, err := r.Run(context.Background(), bench.ScenarioConnect)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Transports[bench.SSE]
	if c := tr.Connections; c.Established != 20 || c.Failed != 0 || c.Peak != 20 || c.HeldS < 0.4 {
		t.Errorf("connections %+v", c)
	}
	if _, ok := res.Transports[bench.WS]; ok {
		t.Error("ws ran though only sse was asked for")
	}
}

func TestRunnerInterrupted(t *testing.T) {
	srv := newTestServer(t)
	r := &bench.Runner{Config: smallConfig(bench.ScenarioFanout, srv.URL)}
	r.Config.Duration = bench.Duration(time.Minute)
	r.Config.Transports = []string{bench.WS}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(2500*time.Millisecond, cancel)
	start := time.Now()
	res, err := r.Run(ctx, bench.ScenarioFanout)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || time.Since(start) > 30*time.Second {
		t.Fatalf("interrupted = %v after %v", res.Interrupted, time.Since(start))
	}
	if tr := res.Transports[bench.WS]; tr == nil || tr.Connections.Established != 20 {
		t.Fatalf("interrupted run kept no measurements: %+v", tr)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := bench.Defaults(bench.ScenarioFanout)
	tests := []struct {
		name     string
		scenario string
		mutate   func(*bench.Config)
		wantErr  bool
	}{
		{"defaults", bench.ScenarioFanout, func(*bench.Config) {}, false},
		{"unknown scenario", "nope", func(*bench.Config) {}, true},
		{"unknown transport", bench.ScenarioFanout, func(c *bench.Config) { c.Transports = []string{"ws", "grpc"} }, true},
		{"no transports", bench.ScenarioFanout, func(c *bench.Config) { c.Transports = nil }, true},
		{"bad target", bench.ScenarioFanout, func(c *bench.Config) { c.Targets = []string{"ftp://x"} }, true},
		{"zero subscribers", bench.ScenarioFanout, func(c *bench.Config) { c.Subscribers = []int{10, 0} }, true},
		{"zero rate", bench.ScenarioFanout, func(c *bench.Config) { c.Rate = 0 }, true},
		{"zero duration", bench.ScenarioFanout, func(c *bench.Config) { c.Duration = 0 }, true},
		{"zero connections", bench.ScenarioConnect, func(c *bench.Config) { c.Connections = 0 }, true},
		{"bad mode", bench.ScenarioReconnect, func(c *bench.Config) { c.ReconnectMode = "kill" }, true},
		{"restart needs spawn", bench.ScenarioReconnect, func(c *bench.Config) {
			c.ReconnectMode = "restart"
			c.Targets = []string{"http://10.0.0.5:8080"}
		}, true},
		{"tasks without watchers", bench.ScenarioTasks, func(c *bench.Config) { c.Watchers = 0 }, true},
		{"server profile of a target", bench.ScenarioFanout, func(c *bench.Config) {
			c.ServerCPUProfile = "cpu.pprof"
			c.Targets = []string{"http://10.0.0.5:8080"}
		}, true},
		{"server profile", bench.ScenarioFanout, func(c *bench.Config) { c.ServerCPUProfile = "cpu.pprof" }, false},
		{"sweep defaults", bench.ScenarioSweep, func(c *bench.Config) { *c = bench.Defaults(bench.ScenarioSweep) }, false},
		{"sweep of several counts", bench.ScenarioSweep, func(c *bench.Config) {
			*c = bench.Defaults(bench.ScenarioSweep)
			c.Subscribers = []int{100, 200}
		}, true},
		{"sweep max below start", bench.ScenarioSweep, func(c *bench.Config) {
			*c = bench.Defaults(bench.ScenarioSweep)
			c.SweepMax = 5
		}, true},
		{"sweep without a limit", bench.ScenarioSweep, func(c *bench.Config) {
			*c = bench.Defaults(bench.ScenarioSweep)
			c.SweepP99 = 0
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			c.Subscribers = append([]int(nil), ok.Subscribers...)
			tc.mutate(&c)
			if err := c.Validate(tc.scenario); (err != nil) != tc.wantErr {
				t.Errorf("Validate = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestProcsFor(t *testing.T) {
	t.Parallel()
	c := bench.Defaults(bench.ScenarioConnect)
	for _, tc := range []struct{ n, procs, want int }{
		{1, 0, 1}, {9000, 0, 1}, {9001, 0, 2}, {19000, 0, 3}, {38000, 0, 5}, {100, 4, 4},
	} {
		c.Procs = tc.procs
		if got := c.ProcsFor(tc.n); got != tc.want {
			t.Errorf("ProcsFor(%d) with --procs %d = %d, want %d", tc.n, tc.procs, got, tc.want)
		}
	}
}

// TestRunnerMultiTarget spreads clients over two servers; the publisher
// publishes to both, and each client is accounted against its own server's
// sequence.
func TestRunnerMultiTarget(t *testing.T) {
	a, b := newTestServer(t), newTestServer(t)
	r := &bench.Runner{Config: smallConfig(bench.ScenarioFanout, a.URL)}
	r.Config.Targets = []string{a.URL, b.URL}
	r.Config.Transports = []string{bench.WS}
	res, err := r.Run(context.Background(), bench.ScenarioFanout)
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Transports[bench.WS]
	pa, pb := a.Hub.Stats().Published, b.Hub.Stats().Published
	if pa == 0 || pb == 0 || int(pa+pb) != tr.Publisher.Published {
		t.Errorf("servers published %d and %d, publisher says %d", pa, pb, tr.Publisher.Published)
	}
	// Ten clients on each server, each expecting its own server's events.
	if want := 10*pa + 10*pb; tr.Expected != want || tr.Lost != 0 || tr.Duplicates != 0 {
		t.Errorf("expected %d, want %d; lost %d, dup %d", tr.Expected, want, tr.Lost, tr.Duplicates)
	}
}

// TestRunnerSweep climbs three small rates; a limit no step can meet stops
// each instrument at its first step, one no step misses lets it climb to
// the last.
func TestRunnerSweep(t *testing.T) {
	srv := newTestServer(t)
	c := smallConfig(bench.ScenarioSweep, srv.URL)
	c.Transports = []string{bench.WS}
	c.Duration = bench.Duration(time.Second)
	c.SweepStart, c.SweepStep, c.SweepMax = 10, 20, 40 // 10, 20, 40
	c.SweepP99 = bench.Duration(time.Hour)
	r := &bench.Runner{Config: c}
	res, err := r.Run(context.Background(), bench.ScenarioSweep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sweep) != 3 || res.Sweep[0].Rate != 10 || res.Sweep[2].Rate != 40 {
		t.Fatalf("sweep steps %+v", res.Sweep)
	}
	for _, name := range []string{bench.WS, bench.Floor} {
		sat := res.Saturation[name]
		if sat == nil || sat.Steps != 3 || sat.SustainedRate != 40 || sat.FailedRate != 0 || sat.MaxSustainedDeliveriesPerS <= 0 || sat.Subscribers != 20 {
			t.Errorf("%s: saturation %+v", name, sat)
		}
	}
	last := res.Sweep[2]
	if tr := last.Transports[bench.WS]; tr == nil || tr.Lost != 0 || tr.Expected != 40*20 || tr.VsFloor == nil {
		t.Errorf("last step ws: %+v", tr)
	}
	if fl := last.Floor; fl == nil || fl.Lost != 0 || fl.Delivered != 40*20 {
		t.Errorf("last step floor: %+v", fl)
	}
	if res.Transports[bench.WS] == nil || res.Floor == nil || res.Transports[bench.WS].Expected != 40*20 {
		t.Errorf("best steps: ws %+v floor %+v", res.Transports[bench.WS], res.Floor)
	}

	c.SweepP99 = bench.Duration(time.Microsecond)
	c.NoFloor = true
	r = &bench.Runner{Config: c}
	res, err = r.Run(context.Background(), bench.ScenarioSweep)
	if err != nil {
		t.Fatal(err)
	}
	sat := res.Saturation[bench.WS]
	if sat == nil || sat.Steps != 1 || sat.FailedRate != 10 || sat.SustainedRate != 0 || sat.MaxSustainedDeliveriesPerS != 0 ||
		!strings.Contains(sat.StoppedBecause, "p99 latency from schedule") {
		t.Errorf("saturation %+v", sat)
	}
	if len(res.Sweep) != 1 || res.Floor != nil || res.Saturation[bench.Floor] != nil {
		t.Errorf("steps %d, floor %+v %+v", len(res.Sweep), res.Floor, res.Saturation[bench.Floor])
	}
	if res.Transports[bench.WS] == nil {
		t.Error("no ws result though its first step ran")
	}
}

func TestSweepRates(t *testing.T) {
	t.Parallel()
	c := bench.Defaults(bench.ScenarioSweep)
	for _, tc := range []struct {
		start, step, max float64
		want             []float64
	}{
		{10, 20, 100, []float64{10, 20, 40, 60, 80, 100}},
		{10, 10, 40, []float64{10, 20, 30, 40}},
		{20, 20, 50, []float64{20, 40}},
		{5, 0, 100, []float64{5}},
		{30, 20, 30, []float64{30}},
	} {
		c.SweepStart, c.SweepStep, c.SweepMax = tc.start, tc.step, tc.max
		if got := c.SweepRates(); !slices.Equal(got, tc.want) {
			t.Errorf("SweepRates(%v, %v, %v) = %v, want %v", tc.start, tc.step, tc.max, got, tc.want)
		}
	}
	if d := bench.Defaults(bench.ScenarioSweep); !slices.Equal(d.Subscribers, []int{5000}) || d.SweepP99.D() != time.Second ||
		!slices.Equal(d.SweepRates()[:4], []float64{10, 20, 40, 60}) {
		t.Errorf("sweep defaults: %v subscribers, p99 %v, rates %v", d.Subscribers, d.SweepP99, d.SweepRates())
	}
}

func TestProfilePath(t *testing.T) {
	t.Parallel()
	c := bench.Config{ServerCPUProfile: "out/server.pprof"}
	for _, tc := range []struct{ transport, step, want string }{
		{"ws", "", "out/server-ws.pprof"},
		{"sse", "5000", "out/server-sse-5000.pprof"},
		{"ws", "20eps", "out/server-ws-20eps.pprof"},
	} {
		if got := c.ProfilePath(tc.transport, tc.step); got != tc.want {
			t.Errorf("ProfilePath(%q, %q) = %q, want %q", tc.transport, tc.step, got, tc.want)
		}
	}
	c.ServerCPUProfile = "cpu"
	if got := c.ProfilePath("ws", ""); got != "cpu-ws" {
		t.Errorf("without an extension: %q", got)
	}
}
