// Package cli is loadgen's command line: it parses flags into a
// bench.Config, runs scenarios with a bench.Runner, writes the JSON results
// and their reports, and prints a summary.
//
// Commands:
//
//	loadgen                          default comparison: every scenario but sweep, modest sizes, both transports
//	loadgen fanout|sweep|connect|reconnect|tasks [flags]
//	loadgen hazards [--hazards LIST]  deployment hazards through nginx, a gzip middleware and headless Chromium
//	loadgen full [--out DIR]         the committed comparison (the floors of issue 3, and the sweep; long)
//	loadgen peers [--out DIR]        our server vs Centrifugo vs the seed-style FastAPI server, both transports, one report
//	loadgen report FILE.json...      Markdown + SVG charts next to each file
//	loadgen worker                   (internal) a worker process, driven over stdin/stdout
//	loadgen floor-server|floor-reader (internal) the floor's writer and readers (see bench.Floor)
//
// Scenario flags (names are a public interface):
//
//	--target [KIND=]URL,… servers under test: twinstream=http://h:p (the default kind), centrifugo=http://h:p,
//	                      custom=FILE (a target file); default: spawn the demo server, fresh per transport
//	--spawn KIND          server to spawn without --target: twinstream (default), centrifugo, fastapi
//	--api-key K           centrifugo: HTTP API key (or $CENTRIFUGO_API_KEY)
//	--token-secret S      centrifugo: client.token.hmac_secret_key, so reconnect can drop the clients (or $CENTRIFUGO_TOKEN_SECRET)
//	--centrifugo-bin PATH, --python PATH   programs of the spawned peers
//	--transports LIST     ws,sse (default both)
//	--subscribers N[,N]   subscribers per transport (fanout: a list sweeps)
//	--rate R              events/s published on each topic
//	--size B              bytes of each event's data
//	--duration D          publishing schedule: round(rate × D) events per topic, every one sent
//	--connections N       connect: connections per transport
//	--out PATH            JSON path (or a directory: results/<scenario>-<date>.json inside it)
//	--procs N             worker processes per transport (0 = ceil(clients / 9000))
//	--topics K            spread subscribers over K topics
//	--tasks T, --watchers W, --task-files F, --task-step D
//	--ramp-rate R         new connections/s (all workers together)
//	--hold D              connect: how long the peak is held
//	--mode drop|restart   reconnect: admin drop, or restart of the spawned server
//	--settle D            reconnect: steady stream before the drop and after recovery
//	--drain D             longest wait for the last deliveries
//	--source-ips LIST     local addresses to connect from (default: 127.0.0.2… for loopback targets)
//	--server-bin PATH     demo server binary to spawn (default: go build ./cmd/demo)
//	--server-arg ARG      extra flag for the spawned server (repeatable)
//	--sse-retry D         retry: the spawned server announces (default: the server's 2s)
//	--ws-backoff-initial D, --ws-backoff-max D, --ws-backoff-jitter F
//	--sse-jitter F        SSE client jitter around the server's retry: (default -1: none, as browsers)
//	--admin-token T       bearer token for a target's admin endpoint (or $TWINSTREAM_ADMIN_TOKEN)
//	--no-report           write only the JSON
//	--worker-cpuprofile DIR  CPU profiles of the worker processes (pprof)
//	--server-cpuprofile FILE CPU profile of each spawned server over each publishing phase (fanout, sweep):
//	                      the server runs with --pprof on a free loopback port; FILE gets -<transport>
//	                      (and -<subscribers> or -<rate>eps for a multi-step run) before its extension
//	--floor=false         fanout, sweep: skip the floor (plain TCP, one write per delivery; on by default)
//	--sse-http 1|2|1,2    SSE over HTTP/1.1 and/or HTTP/2 (result "sse-h2"; HTTP/2 runs every transport over TLS)
//	--ws-compression MODE WebSocket permessage-deflate: disabled, context-takeover ("ws-deflate"), no-context-takeover ("ws-deflate-nct")
//	--sse-gzip            gzip on SSE streams, flushed per batch ("sse-gzip")
//	--payload KIND        event data: padding (--size bytes), progress (a task progress event), doc2k (a 2 KB JSON document)
//	--hazards LIST        hazards: which to run (default all: proxy-buffering, proxy-websocket-upgrade,
//	                      gzip-middleware, proxy-idle-timeout, browser-connection-limit)
//	--sweep-start R, --sweep-step S, --sweep-max M   sweep: rates R, then every multiple of S above R, up to M (10, 20, 400)
//	--step-duration D     sweep: publishing time of each step (= --duration; default 10s)
//	--sweep-p99 D         sweep: a step fails when p99 latency from schedule passes D (default 1s)
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

// Exit statuses.
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// Run runs loadgen with args (without the program name) and returns the
// exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "worker":
		return runWorker(ctx, bench.RunWorker, stdin, stdout, stderr)
	case "floor-reader":
		return runWorker(ctx, bench.RunFloorReader, stdin, stdout, stderr)
	case "floor-server":
		return runWorker(ctx, bench.RunFloorServer, stdin, stdout, stderr)
	case "report":
		return runReport(args, stdout, stderr)
	case "help":
		usage(stdout)
		return ExitOK
	case "", "full":
		return runSuite(ctx, cmd, args, stdout, stderr)
	case "peers":
		return runPeers(ctx, args, stdout, stderr)
	}
	if !slices.Contains(bench.Scenarios, cmd) {
		fmt.Fprintf(stderr, "loadgen: unknown command %q\n\n", cmd)
		usage(stderr)
		return ExitUsage
	}
	opts, err := parseFlags(cmd, args, stderr)
	if err != nil {
		return usageError(err, stderr)
	}
	if groups := targetGroups(opts.cfg.Targets); len(groups) > 1 {
		return runCompare(ctx, opts, cmd, args, groups, stdout, stderr) // servers of several kinds: side by side
	}
	res, code := runScenario(ctx, opts, cmd, stderr)
	if res == nil {
		return code
	}
	path, err := outPath(opts.out, cmd, res.StartedAt)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return ExitError
	}
	return finishRun(res, path, opts, code, stdout, stderr)
}

// runWorker runs a hidden subcommand driven by the parent over stdin and
// stdout: worker (clients), floor-reader and floor-server (the floor).
// Terminal signals go to the whole process group; these processes ignore
// them and stop when the parent closes their stdin, so that an interrupted
// run still collects its figures.
func runWorker(ctx context.Context, run func(context.Context, io.Reader, io.Writer) error, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := run(context.WithoutCancel(ctx), stdin, stdout); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(stderr, "%v\n", err)
		return ExitError
	}
	return ExitOK
}

type options struct {
	cfg      bench.Config
	out      string
	noReport bool
	quiet    bool
}

func usageError(err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	fmt.Fprintf(stderr, "loadgen: %v (see loadgen help)\n", err)
	return ExitUsage
}

// parseFlags parses a scenario's flags over its defaults.
func parseFlags(scenario string, args []string, stderr io.Writer) (options, error) {
	return parseFlagsOver(scenario, bench.Defaults(scenario), args, stderr, nil)
}

// parseFlagsOver parses the scenario flags over base, with the extra flags
// a command adds.
func parseFlagsOver(scenario string, base bench.Config, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (options, error) {
	o := options{cfg: base}
	c := &o.cfg
	fs := flag.NewFlagSet("loadgen "+scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	fs.Func("target", "comma-separated servers, each [KIND=]URL: twinstream=http://h:p (the default kind), centrifugo=http://h:p, custom=FILE (default: spawn the demo server)", func(v string) error {
		c.Targets = splitList(v)
		return nil
	})
	fs.StringVar(&c.Spawn, "spawn", c.Spawn, "server to spawn when no --target: twinstream (default), centrifugo, fastapi")
	fs.StringVar(&c.APIKey, "api-key", os.Getenv("CENTRIFUGO_API_KEY"), "centrifugo target: HTTP API key (X-API-Key; or $CENTRIFUGO_API_KEY)")
	fs.StringVar(&c.TokenSecret, "token-secret", os.Getenv("CENTRIFUGO_TOKEN_SECRET"), "centrifugo target: client.token.hmac_secret_key, so clients connect as a user reconnect can drop (or $CENTRIFUGO_TOKEN_SECRET)")
	fs.StringVar(&c.CentrifugoBin, "centrifugo-bin", "", "Centrifugo binary to spawn (default: centrifugo on PATH or in $(go env GOPATH)/bin, installed when missing)")
	fs.StringVar(&c.Python, "python", "", "Python that runs the FastAPI peer (default: /usr/bin/python3 or python3 with fastapi and uvicorn)")
	if extra != nil {
		extra(fs)
	}
	fs.Func("transports", "transports to compare: ws,sse", func(v string) error {
		c.Transports = splitList(v)
		return nil
	})
	fs.Func("subscribers", "subscribers per transport (a comma list sweeps fanout)", func(v string) error {
		n, err := intList(v)
		c.Subscribers = n
		return err
	})
	fs.Float64Var(&c.Rate, "rate", c.Rate, "events/s published on each topic")
	fs.IntVar(&c.Size, "size", c.Size, "bytes of each event's data")
	durVar(fs, &c.Duration, "duration", "publishing schedule: round(rate × duration) events per topic, all sent however slow the server")
	fs.IntVar(&c.Connections, "connections", c.Connections, "connect: connections per transport")
	fs.StringVar(&o.out, "out", "results", "JSON output path, or a directory for results/<scenario>-<date>.json")
	fs.IntVar(&c.Procs, "procs", c.Procs, "worker processes per transport (0 = automatic: ceil(clients/9000))")
	fs.IntVar(&c.Topics, "topics", c.Topics, "spread subscribers over this many topics")
	fs.IntVar(&c.Tasks, "tasks", c.Tasks, "tasks: concurrent tasks")
	fs.IntVar(&c.Watchers, "watchers", c.Watchers, "tasks: watchers per task per transport")
	fs.IntVar(&c.TaskFiles, "task-files", c.TaskFiles, "tasks: files per task")
	fs.Func("task-step", "tasks: time per file (e.g. 100ms)", func(v string) error {
		d, err := time.ParseDuration(v)
		c.TaskStepMS = int(d / time.Millisecond)
		return err
	})
	fs.Float64Var(&c.RampRate, "ramp-rate", c.RampRate, "new connections per second, all workers together (0 = unpaced)")
	durVar(fs, &c.Hold, "hold", "connect: how long the peak is held")
	fs.StringVar(&c.ReconnectMode, "mode", c.ReconnectMode, "reconnect: drop (admin endpoint) or restart (spawned server)")
	durVar(fs, &c.Settle, "settle", "reconnect: steady stream before the drop and after recovery")
	durVar(fs, &c.Drain, "drain", "longest wait for the last deliveries")
	fs.Func("source-ips", "comma-separated local addresses to connect from", func(v string) error {
		c.SourceIPs = splitList(v)
		return nil
	})
	fs.StringVar(&c.ServerBin, "server-bin", "", "demo server binary to spawn (default: built from ./cmd/demo)")
	fs.Func("server-arg", "extra flag for the spawned server (repeatable)", func(v string) error {
		c.ServerArgs = append(c.ServerArgs, v)
		return nil
	})
	durVar(fs, &c.SSERetry, "sse-retry", "retry: the spawned server announces to SSE clients")
	durVar(fs, &c.WSBackoff.Initial, "ws-backoff-initial", "WebSocket client's first reconnect delay")
	durVar(fs, &c.WSBackoff.Max, "ws-backoff-max", "WebSocket client's longest reconnect delay")
	fs.Float64Var(&c.WSBackoff.Jitter, "ws-backoff-jitter", c.WSBackoff.Jitter, "fraction of each WebSocket delay taken off at random")
	fs.Float64Var(&c.SSEBackoff.Jitter, "sse-jitter", c.SSEBackoff.Jitter, "SSE client jitter around retry: (-1 = none, as browsers)")
	fs.StringVar(&c.AdminToken, "admin-token", os.Getenv("TWINSTREAM_ADMIN_TOKEN"), "bearer token for a target's admin endpoint")
	fs.BoolVar(&c.InProcess, "in-process", false, "run workers as goroutines (small runs only)")
	fs.StringVar(&c.ProfileDir, "worker-cpuprofile", "", "directory for the worker processes' CPU profiles")
	fs.StringVar(&c.ServerCPUProfile, "server-cpuprofile", "", "CPU profile of each spawned server over the publishing phase (FILE gets -<transport> before its extension)")
	fs.Func("sse-http", "HTTP versions SSE runs over: 1, 2 or 1,2 (2: HTTP/2 over TLS, many streams per TCP connection; every transport then uses TLS)", func(v string) error {
		n, err := bench.ParseHTTPVersions(v)
		c.SSEHTTP = n
		return err
	})
	fs.StringVar(&c.WSCompression, "ws-compression", c.WSCompression, "WebSocket permessage-deflate: disabled, context-takeover or no-context-takeover (the spawned server offers it, the clients ask)")
	fs.BoolVar(&c.SSEGzip, "sse-gzip", c.SSEGzip, "gzip SSE streams (the spawned server's --sse-gzip; the clients accept gzip)")
	fs.StringVar(&c.Payload, "payload", c.Payload, "event data: padding (--size bytes, the default), progress (a task progress event), doc2k (a 2 KB JSON document)")
	fs.Func("hazards", "hazards: which to run, comma-separated (default all: "+strings.Join(bench.Hazards, ",")+")", func(v string) error {
		c.Hazards = splitList(v)
		return nil
	})
	fs.BoolFunc("floor", "run the floor (plain TCP, one write per delivery) beside the transports (default true; --floor=false skips it)", func(v string) error {
		on, err := strconv.ParseBool(v)
		c.NoFloor = !on
		return err
	})
	fs.Float64Var(&c.SweepStart, "sweep-start", c.SweepStart, "sweep: first rate (events/s per topic)")
	fs.Float64Var(&c.SweepStep, "sweep-step", c.SweepStep, "sweep: then every multiple of this above the start")
	fs.Float64Var(&c.SweepMax, "sweep-max", c.SweepMax, "sweep: highest rate tried")
	durVar(fs, &c.SweepP99, "sweep-p99", "sweep: a step fails when p99 latency from schedule passes this")
	durVar(fs, &c.Duration, "step-duration", "sweep: publishing time of each step (the same as --duration)")
	fs.BoolVar(&o.noReport, "no-report", false, "write only the JSON")
	fs.BoolVar(&o.quiet, "quiet", false, "no live progress")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if scenario != "" {
		if err := c.Validate(scenario); err != nil {
			return o, err
		}
	}
	return o, nil
}

func durVar(fs *flag.FlagSet, d *bench.Duration, name, usage string) {
	fs.Func(name, usage+" (default "+d.D().String()+")", func(v string) error {
		x, err := time.ParseDuration(v)
		if err != nil {
			return err
		}
		*d = bench.Duration(x)
		return nil
	})
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intList(v string) ([]int, error) {
	var out []int
	for _, p := range splitList(v) {
		n, err := strconv.Atoi(strings.ReplaceAll(p, "_", ""))
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// runScenario runs one scenario; it returns the result (nil on a failure
// before anything was measured) and the exit status.
func runScenario(ctx context.Context, o options, scenario string, stderr io.Writer) (*bench.Result, int) {
	r := &bench.Runner{Config: o.cfg, Log: stderr}
	if o.quiet {
		r.Log = nil
	}
	res, err := r.Run(ctx, scenario)
	code := ExitOK
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: %s: %v\n", scenario, err)
		code = ExitError
	}
	if res != nil && res.Interrupted {
		fmt.Fprintf(stderr, "loadgen: interrupted; writing what was measured\n")
		code = ExitInterrupted
	}
	if res != nil && len(res.Transports) == 0 && code == ExitError {
		return nil, code
	}
	return res, code
}

// outPath resolves --out: a .json path is used as is, anything else is a
// directory for <scenario>-<date>.json.
func outPath(out, scenario string, t time.Time) (string, error) {
	if strings.HasSuffix(out, ".json") {
		return out, nil
	}
	return bench.DefaultPath(out, scenario, t), nil
}

// finishRun writes the JSON (and the report), prints the summary.
func finishRun(res *bench.Result, path string, o options, code int, stdout, stderr io.Writer) int {
	if err := res.WriteJSON(path); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return ExitError
	}
	report.Summary(stdout, res)
	fmt.Fprintf(stdout, "wrote %s\n", path)
	if !o.noReport {
		files, err := report.Write([]string{path})
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: report: %v\n", err)
			return ExitError
		}
		for _, f := range files {
			if filepath.Ext(f) == ".md" {
				fmt.Fprintf(stdout, "wrote %s\n", f)
			}
		}
	}
	return code
}

func runReport(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "loadgen report: give one or more result JSON files")
		return ExitUsage
	}
	files, err := report.Write(args)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen report: %v\n", err)
		return ExitError
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	return ExitOK
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  loadgen                          default comparison: every scenario but sweep, at modest sizes on ws and sse, results in results/
  loadgen fanout|sweep|connect|reconnect|tasks [flags]
  loadgen hazards [--hazards LIST] deployment hazards (nginx, gzip middleware, idle timeout, Chromium's connection limit)
  loadgen full [--out DIR]         the committed comparison (floors of issue 3, and the sweep; about 30 minutes)
  loadgen peers [--out DIR]        our server vs Centrifugo vs FastAPI, both transports (results/peers; about 25 minutes)
                                   --peers LIST (twinstream,centrifugo,fastapi), --subscribers N,N (fanout steps: 1000,5000),
                                   --connections N (10000), --reconnect-subscribers N (5000; 0 skips), every scenario flag
  loadgen report FILE.json...      Markdown + SVG charts next to each file

Flags:
  --target [KIND=]URL,… servers: twinstream=http://h:p (default kind), centrifugo=http://h:p, custom=FILE (a target file)
                        (default: spawn the demo server, fresh per transport)
  --spawn KIND          spawn twinstream (default), centrifugo or fastapi   --api-key K, --token-secret S   centrifugo target
  --centrifugo-bin PATH, --python PATH   programs of the spawned peers
  --transports LIST     ws,sse (default both)
  --subscribers N[,N]   subscribers per transport (fanout: a list sweeps)
  --rate R              events/s on each topic          --size B        bytes of event data
  --duration D          publishing time                 --connections N connect: per transport
  --out PATH            JSON file, or directory for <scenario>-<date>.json (default results)
  --procs N             worker processes (0 = ceil(clients/9000))
  --topics K            topics to spread subscribers over
  --tasks T --watchers W --task-files F --task-step D   tasks scenario
  --ramp-rate R         new connections/s               --hold D        connect: hold time
  --mode drop|restart   reconnect trigger               --settle D      reconnect: steady time around the drop
  --drain D             wait for last deliveries        --source-ips L  local addresses to connect from
  --server-bin PATH     demo server binary              --server-arg A  extra server flag (repeatable)
  --sse-retry D         spawned server's retry:         --ws-backoff-initial/-max D, --ws-backoff-jitter F
  --sse-jitter F        SSE jitter around retry: (-1 = none, browser-style)
  --admin-token T       admin bearer token for --target --no-report    JSON only      --quiet  no progress
  --sse-http 1|2|1,2    SSE over HTTP/1.1 and/or HTTP/2 (TLS)  --ws-compression MODE  --sse-gzip  --payload padding|progress|doc2k
  --hazards LIST        hazards to run (default all)
  --floor=false         skip the floor (plain TCP, one write per delivery) that fanout and sweep run after the transports
  --sweep-start R --sweep-step S --sweep-max M   sweep rates: R, then each multiple of S above R, up to M (10, 20, 400)
  --step-duration D     sweep: publishing time per step (10s)   --sweep-p99 D   sweep: p99 from schedule limit (1s)
  --worker-cpuprofile DIR  CPU profiles of the worker processes
  --server-cpuprofile FILE CPU profile of each spawned server's publishing phase (FILE-ws.pprof, FILE-sse.pprof…)
`)
}
