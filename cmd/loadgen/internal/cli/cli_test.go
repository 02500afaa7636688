package cli

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/bench"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		scenario string
		args     []string
		check    func(options) bool
		wantErr  bool
	}{
		{"defaults", "fanout", nil, func(o options) bool {
			return slices.Equal(o.cfg.Transports, []string{"ws", "sse"}) && o.out == "results" && o.cfg.Rate == 10
		}, false},
		{"public names", "fanout", []string{"--target", "http://10.0.0.5:8080,http://10.0.0.6:8080", "--transports", "sse",
			"--subscribers", "5000", "--rate", "20", "--size", "256", "--duration", "60s", "--out", "x.json"}, func(o options) bool {
			c := o.cfg
			return len(c.Targets) == 2 && slices.Equal(c.Transports, []string{"sse"}) && slices.Equal(c.Subscribers, []int{5000}) &&
				c.Rate == 20 && c.Size == 256 && c.Duration.D() == time.Minute && o.out == "x.json"
		}, false},
		{"sweep", "fanout", []string{"--subscribers", "100,1_000,10000"}, func(o options) bool {
			return slices.Equal(o.cfg.Subscribers, []int{100, 1000, 10000})
		}, false},
		{"connect", "connect", []string{"--connections", "19000", "--hold", "60s", "--ramp-rate", "500", "--procs", "3"}, func(o options) bool {
			return o.cfg.Connections == 19000 && o.cfg.Hold.D() == time.Minute && o.cfg.RampRate == 500 && o.cfg.Procs == 3
		}, false},
		{"reconnect", "reconnect", []string{"--mode", "restart", "--sse-jitter", "0.5", "--ws-backoff-initial", "100ms"}, func(o options) bool {
			return o.cfg.ReconnectMode == "restart" && o.cfg.SSEBackoff.Jitter == 0.5 && o.cfg.WSBackoff.Initial.D() == 100*time.Millisecond
		}, false},
		{"tasks", "tasks", []string{"--tasks", "7", "--watchers", "3", "--task-step", "50ms", "--source-ips", "127.0.0.5, 127.0.0.6"}, func(o options) bool {
			return o.cfg.Tasks == 7 && o.cfg.Watchers == 3 && o.cfg.TaskStepMS == 50 && slices.Equal(o.cfg.SourceIPs, []string{"127.0.0.5", "127.0.0.6"})
		}, false},
		{"server args", "fanout", []string{"--server-arg", "--history=50", "--server-arg", "--workers=2"}, func(o options) bool {
			return slices.Equal(o.cfg.ServerArgs, []string{"--history=50", "--workers=2"})
		}, false},
		{"floor on by default", "fanout", nil, func(o options) bool { return !o.cfg.NoFloor }, false},
		{"floor off", "fanout", []string{"--floor=false"}, func(o options) bool { return o.cfg.NoFloor }, false},
		{"floor on", "fanout", []string{"--floor"}, func(o options) bool { return !o.cfg.NoFloor }, false},
		{"bad floor", "fanout", []string{"--floor=maybe"}, nil, true},
		{"sweep defaults", "sweep", nil, func(o options) bool {
			c := o.cfg
			return slices.Equal(c.Subscribers, []int{5000}) && c.SweepStart == 10 && c.SweepStep == 20 && c.SweepP99.D() == time.Second && c.Duration.D() == 10*time.Second
		}, false},
		{"sweep flags", "sweep", []string{"--subscribers", "2000", "--sweep-start", "20", "--sweep-step", "10", "--sweep-max", "90",
			"--step-duration", "15s", "--sweep-p99", "500ms"}, func(o options) bool {
			c := o.cfg
			return slices.Equal(c.Subscribers, []int{2000}) && c.SweepStart == 20 && c.SweepStep == 10 && c.SweepMax == 90 &&
				c.Duration.D() == 15*time.Second && c.SweepP99.D() == 500*time.Millisecond
		}, false},
		{"sweep of two counts", "sweep", []string{"--subscribers", "100,200"}, nil, true},
		{"profiles", "fanout", []string{"--server-cpuprofile", "p/server.pprof", "--worker-cpuprofile", "p"}, func(o options) bool {
			return o.cfg.ServerCPUProfile == "p/server.pprof" && o.cfg.ProfileDir == "p"
		}, false},
		{"server profile of a target", "fanout", []string{"--server-cpuprofile", "x.pprof", "--target", "http://10.0.0.5:8080"}, nil, true},
		{"unknown flag", "fanout", []string{"--nope"}, nil, true},
		{"bad number", "fanout", []string{"--subscribers", "ten"}, nil, true},
		{"bad duration", "fanout", []string{"--duration", "soon"}, nil, true},
		{"bad transport", "fanout", []string{"--transports", "ws,grpc"}, nil, true},
		{"stray argument", "fanout", []string{"extra"}, nil, true},
		{"restart with target", "reconnect", []string{"--mode", "restart", "--target", "http://10.0.0.5:8080"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tc.scenario, tc.args, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseFlags(%q) error = %v, want error %v", tc.args, err, tc.wantErr)
			}
			if err == nil && !tc.check(o) {
				t.Errorf("parseFlags(%q) = %+v", tc.args, o)
			}
		})
	}
}

func TestOutPath(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct{ out, want string }{
		{"results", "results/fanout-20260102-030405.json"},
		{"results/", "results/fanout-20260102-030405.json"},
		{"/tmp/x.json", "/tmp/x.json"},
	} {
		if got, _ := outPath(tc.out, "fanout", at); got != tc.want {
			t.Errorf("outPath(%q) = %q, want %q", tc.out, got, tc.want)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := Run(t.Context(), []string{"help"}, nil, &out, &errb); code != ExitOK || !strings.Contains(out.String(), "--subscribers") {
		t.Errorf("help: exit %d, output %q", code, out.String())
	}
	if code := Run(t.Context(), []string{"bogus"}, nil, &out, &errb); code != ExitUsage {
		t.Errorf("unknown command: exit %d, want %d", code, ExitUsage)
	}
	if code := Run(t.Context(), []string{"fanout", "--rate", "-1"}, nil, &out, &errb); code != ExitUsage {
		t.Errorf("bad flag value: exit %d, want %d", code, ExitUsage)
	}
	if code := Run(t.Context(), []string{"report"}, nil, &out, &errb); code != ExitUsage {
		t.Errorf("report without files: exit %d, want %d", code, ExitUsage)
	}
}

// TestReportCommand runs `loadgen report` on a committed sample result.
func TestReportCommand(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../../../bench/report/testdata/fanout.json")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "fanout-sample.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := Run(t.Context(), []string{"report", p}, nil, &out, &errb); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"fanout-sample.md", "fanout-sample-latency-cdf.svg", "fanout-sample-latency-vs-subscribers.svg"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("output does not list %s:\n%s", f, out.String())
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), f)); err != nil {
			t.Error(err)
		}
	}
}

func TestFullConfigMeetsFloors(t *testing.T) {
	t.Parallel()
	f := FullConfig(bench.ScenarioFanout)
	if slices.Max(f.Subscribers) < 10000 || f.Size != 100 || f.Rate != 10 || f.Duration.D() < time.Minute {
		t.Errorf("fanout %+v below the floor", f)
	}
	if c := FullConfig(bench.ScenarioConnect); c.Connections < 19000 || c.Hold.D() < time.Minute {
		t.Errorf("connect %+v below the floor", c)
	}
	if r := FullConfig(bench.ScenarioReconnect); slices.Max(r.Subscribers) < 10000 {
		t.Errorf("reconnect %+v below the floor", r)
	}
	if s := FullConfig(bench.ScenarioSweep); s.Subscribers[0] != 5000 || !slices.Equal(s.SweepRates()[:3], []float64{10, 20, 40}) || s.Duration.D() < 10*time.Second {
		t.Errorf("full sweep: %v subscribers, rates %v, %v per step", s.Subscribers, s.SweepRates(), s.Duration.D())
	}
	for _, s := range bench.Scenarios {
		if err := FullConfig(s).Validate(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func TestWithoutServerBin(t *testing.T) {
	t.Parallel()
	got := withoutServerBin([]string{"--out", "results", "--server-bin", "/tmp/demo", "--server-bin=/x", "--procs", "3"})
	if want := []string{"--out", "results", "--procs", "3"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
