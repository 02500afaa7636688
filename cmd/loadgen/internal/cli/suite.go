package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

// FullConfig is the configuration of `loadgen full`: the committed
// comparison, sized to the floors of issue 3 on a 2-core machine.
func FullConfig(scenario string) bench.Config {
	c := bench.Defaults(scenario)
	switch scenario {
	case bench.ScenarioFanout:
		c.Subscribers = []int{1000, 5000, 10000}
		c.Rate, c.Size, c.Duration = 10, 100, bench.Duration(60*time.Second)
		// 10,000 × 10 events/s is about twice what server and loadgen
		// together deliver on 2 cores: the backlog drains after the minute
		// of publishing, and must not be counted as lost.
		c.Drain = bench.Duration(300 * time.Second)
	case bench.ScenarioSweep:
		// 5,000 subscribers, 10, 20, 40, 60… events/s, 10 s each, until
		// p99 from schedule passes 1 s; a step's backlog gets 30 s to drain.
		c.Subscribers = []int{5000}
		c.Size, c.Duration = 100, bench.Duration(10*time.Second)
		c.SweepStart, c.SweepStep, c.SweepMax = 10, 20, 400
		c.Drain = bench.Duration(30 * time.Second)
	case bench.ScenarioConnect:
		c.Connections = 19000
		c.RampRate = 1000
		c.Hold = bench.Duration(60 * time.Second)
	case bench.ScenarioReconnect:
		c.Subscribers = []int{10000}
		c.Rate, c.Size = 10, 100
		c.Settle = bench.Duration(5 * time.Second)
		c.Drain = bench.Duration(300 * time.Second)
		// Back within 3 s (issue 10): the server drains its connections in
		// batches over 500 ms and announces SSE retry: 1 s ± 50% (the
		// demo's --sse-retry-spread), and WebSocket clients back off with
		// full jitter from 1 s, so the herd arrives spread over about a
		// second instead of overflowing the accept queue at once.
		c.DropPace = bench.Duration(500 * time.Millisecond)
		c.SSERetry = bench.Duration(time.Second)
		c.WSBackoff = bench.BackoffConfig{Initial: bench.Duration(time.Second), Max: bench.Duration(10 * time.Second), Multiplier: 2, Jitter: 1}
	case bench.ScenarioTasks:
		c.Tasks, c.Watchers = 100, 20
		c.TaskFiles, c.TaskStepMS = 20, 100
	case bench.ScenarioCompression:
		// 2 payloads × 5 legs, 1,000 subscribers × 10 events/s for 30 s each.
		c.Subscribers = []int{1000}
		c.Rate, c.Duration = 10, bench.Duration(30*time.Second)
		c.Drain = bench.Duration(30 * time.Second)
	}
	return c
}

// runSuite runs every scenario: the default comparison ("") or the full
// one ("full"). Flags apply to every scenario; --out is a directory.
func runSuite(ctx context.Context, kind string, args []string, stdout, stderr io.Writer) int {
	var paths []string
	code := ExitOK
	start := time.Now()
	// Build the demo server once for every scenario (unless given or remote).
	serverBin := ""
	if o, err := parseFlags("", args, io.Discard); err == nil && o.cfg.ServerBin == "" && len(o.cfg.Targets) == 0 {
		dir, err := os.MkdirTemp("", "twinstream-loadgen-")
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return ExitError
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(stderr, "building the demo server (./cmd/demo) into %s\n", dir)
		if serverBin, err = bench.BuildServer(ctx, bench.ModuleDir(), dir); err != nil {
			fmt.Fprintf(stderr, "loadgen: %v (pass --server-bin or --target)\n", err)
			return ExitError
		}
	}
	scenarios := bench.DefaultSuite
	if kind == "full" {
		scenarios = bench.Scenarios
	}
	for _, scenario := range scenarios {
		if ctx.Err() != nil {
			break
		}
		o, err := parseFlags(scenario, args, stderr)
		if err != nil {
			return usageError(err, stderr)
		}
		if kind == "full" {
			base := o.cfg
			o.cfg = FullConfig(scenario)
			// Keep what the user set that is not a size.
			o.cfg.Targets, o.cfg.Transports, o.cfg.ServerBin, o.cfg.ServerArgs = base.Targets, base.Transports, base.ServerBin, base.ServerArgs
			o.cfg.Procs, o.cfg.SourceIPs, o.cfg.AdminToken = base.Procs, base.SourceIPs, base.AdminToken
			o.cfg.NoFloor, o.cfg.ServerCPUProfile, o.cfg.ProfileDir = base.NoFloor, base.ServerCPUProfile, base.ProfileDir
			o.cfg.Spawn, o.cfg.APIKey, o.cfg.TokenSecret = base.Spawn, base.APIKey, base.TokenSecret
			o.cfg.CentrifugoBin, o.cfg.Python = base.CentrifugoBin, base.Python
		}
		if serverBin != "" {
			o.cfg.ServerBin = serverBin
		}
		if strings.HasSuffix(o.out, ".json") {
			fmt.Fprintln(stderr, "loadgen: --out is a directory when running every scenario")
			return ExitUsage
		}
		fmt.Fprintf(stderr, "== %s ==\n", scenario)
		res, c := runScenario(ctx, o, scenario, stderr)
		code = max(code, c)
		if res == nil {
			continue
		}
		path := bench.DefaultPath(o.out, scenario, res.StartedAt)
		if c := finishRun(res, path, o, c, stdout, stderr); c != ExitOK {
			code = max(code, c)
		}
		paths = append(paths, path)
	}
	if len(paths) > 0 {
		dir := filepath.Dir(paths[0])
		cmdline := "go run ./cmd/loadgen"
		if kind == "full" {
			cmdline += " full"
		}
		if shown := withoutServerBin(args); len(shown) > 0 {
			cmdline += " " + strings.Join(shown, " ")
		}
		idx, err := report.WriteIndex(dir, paths, cmdline, time.Since(start))
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: %v\n", err)
			return ExitError
		}
		fmt.Fprintf(stdout, "wrote %s (all scenarios, %s)\n", idx, time.Since(start).Round(time.Second))
	}
	return code
}

// withoutServerBin drops --server-bin (a local path that does not change
// what is measured) from the command shown in the index.
func withoutServerBin(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--server-bin" || a == "-server-bin":
			i++
		case strings.HasPrefix(a, "--server-bin=") || strings.HasPrefix(a, "-server-bin="):
		default:
			out = append(out, a)
		}
	}
	return out
}
