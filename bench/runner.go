package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Runner runs scenarios. Set Config (start from Defaults), then call Run;
// a Runner runs one scenario at a time.
type Runner struct {
	// Config is the run's configuration.
	Config Config
	// Log receives live progress (one line a second) and notes; nil discards.
	Log io.Writer
	// WorkerCommand starts a worker process: argv of a program that runs
	// RunWorker on its stdin and stdout. Default: this executable with the
	// argument "worker" (what cmd/loadgen does). Ignored with Config.InProcess.
	WorkerCommand []string
	// FloorCommand is the argv of a program with loadgen's hidden
	// floor-server and floor-reader subcommands, which is run with one of
	// them appended (see Floor). Default: this executable (what cmd/loadgen
	// does). Ignored with Config.InProcess.
	FloorCommand []string
	// ModuleDir is the twinstream checkout the demo server is built from
	// when Config.ServerBin is empty and no target is given. Default: found
	// from the working directory.
	ModuleDir string

	serverBin   string
	scenarioSrv []string // the scenario's own flags for a spawned server
	knowsMu     sync.Mutex
	knows       map[string]bool // flags the server binary takes (serverKnows)
	targets     []*target       // the --target servers of this run
	cluster     bool            // they are the nodes of one deployment (cluster.go)
	peerBin     string          // the spawned peer's program (centrifugo, python)
	peerDir     string          // where spawned peers' config files go
	modDir      string          // the module checkout of this run
}

// Run runs one scenario on every configured transport and returns its
// result. When ctx is cancelled (Ctrl-C) it stops early and still returns
// what was measured, with Interrupted set.
func (r *Runner) Run(ctx context.Context, scenario string) (*Result, error) {
	c := r.Config
	if err := c.Validate(scenario); err != nil {
		return nil, err
	}
	res := &Result{
		Scenario: scenario, Config: c, StartedAt: time.Now().UTC(),
		Transports: map[string]*TransportResult{},
	}
	moduleDir := r.ModuleDir
	if moduleDir == "" {
		moduleDir = ModuleDir()
	}
	r.modDir = moduleDir
	res.Env = CaptureEnv(ctx, moduleDir)
	if len(c.Targets) > 0 {
		res.ServerMode = "target: " + strings.Join(c.Targets, ",") + " (one server for every transport, run one after the other)"
		if err := r.openTargets(); err != nil {
			return nil, err
		}
		if res.Deployment = deploymentOf(ctx, r.targets); res.Deployment != nil {
			r.cluster = true
			res.ServerMode = "deployment: " + res.Deployment.String() + " (subscribers spread over the nodes, each event published through one node in turn; transports run one after the other)"
			fmt.Fprintf(r.logw(), "targets are %s\n", res.Deployment)
		}
	} else if kind := c.spawnKind(); kind != KindTwinstream {
		res.ServerMode = "spawned: a fresh " + kind + " server per transport, transports run one after the other"
		dir, err := r.preparePeer(ctx, kind, moduleDir)
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else {
		res.ServerMode = "spawned: a fresh demo server per transport, transports run one after the other"
		built, err := r.ensureServer(ctx, moduleDir)
		if err != nil {
			return nil, err
		}
		if built != "" {
			defer func() { os.RemoveAll(built); r.serverBin = "" }()
			res.Config.ServerBin = "built from ./cmd/demo of this commit"
		} else {
			res.Config.ServerBin = r.serverBin
		}
	}
	// A scenario a target cannot run is said so, per transport, never
	// left as zeros.
	skipped := r.unsupported(scenario)
	if len(skipped) > 0 {
		defer func(all []string) { r.Config.Transports = all }(r.Config.Transports)
		r.Config.Transports = slices.DeleteFunc(slices.Clone(c.Transports), func(t string) bool { return skipped[t] != "" })
		for t, why := range skipped {
			res.Transports[t] = &TransportResult{NotSupported: why}
			fmt.Fprintf(r.logw(), "[%s %s] %s\n", scenario, t, why)
		}
	}
	var err error
	switch scenario {
	case ScenarioFanout:
		err = r.fanout(ctx, res)
	case ScenarioConnect:
		err = r.connect(ctx, res)
	case ScenarioReconnect:
		err = r.reconnect(ctx, res)
	case ScenarioTasks:
		err = r.tasks(ctx, res)
	case ScenarioSweep:
		err = r.sweep(ctx, res)
	case ScenarioHazards:
		err = r.hazards(ctx, res)
	case ScenarioCompression:
		err = r.compression(ctx, res)
	}
	for t, why := range skipped { // (a scenario may have replaced res.Transports)
		if res.Transports[t] == nil {
			res.Transports[t] = &TransportResult{NotSupported: why}
		}
	}
	res.EndedAt = time.Now().UTC()
	if ctx.Err() != nil {
		res.Interrupted = true
		err = nil
	}
	return res, err
}

// ensureServer builds the demo server into a temporary directory unless a
// binary was given; it returns that directory ("" when nothing was built).
func (r *Runner) ensureServer(ctx context.Context, moduleDir string) (string, error) {
	if r.Config.ServerBin != "" {
		r.serverBin = r.Config.ServerBin
		return "", nil
	}
	if moduleDir == "" {
		return "", errors.New("bench: not inside the twinstream module, so the demo server cannot be built: pass --server-bin or --target")
	}
	dir, err := os.MkdirTemp("", "twinstream-loadgen-")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(r.logw(), "building the demo server (./cmd/demo) into %s\n", dir)
	bin, err := BuildServer(ctx, moduleDir, dir)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	r.serverBin = bin
	return dir, nil
}

// withTargets gives fn the servers for one transport: a freshly spawned
// demo server (stopped afterwards), or the configured targets.
func (r *Runner) withTargets(ctx context.Context, res *Result, fn func([]*target) error) error {
	if len(r.Config.Targets) > 0 {
		return fn(r.targets)
	}
	if kind := r.Config.spawnKind(); kind != KindTwinstream {
		t, err := r.spawnPeer(ctx, kind)
		if err != nil {
			return err
		}
		defer func() { _ = t.process().stop(15 * time.Second) }()
		res.Env.SetServer(t.process().pid())
		return fn([]*target{t})
	}
	args, pprofAddr := r.serverArgs(), ""
	if r.Config.ServerCPUProfile != "" {
		var err error
		if pprofAddr, err = freeLoopbackAddr(); err != nil {
			return err
		}
		args = append(args, "--pprof", pprofAddr)
	}
	proc, err := spawnServer(ctx, r.serverBin, "127.0.0.1:0", args)
	if err != nil {
		return err
	}
	proc.pprof = pprofAddr
	t := newTarget(proc.url, proc)
	defer func() { _ = t.process().stop(15 * time.Second) }() // the current process: a restart replaces it
	res.Env.SetServer(proc.pid())
	return fn([]*target{t})
}

// serverArgs are the spawned server's flags besides --addr.
func (r *Runner) serverArgs() []string {
	args := append([]string{"--log-level", "warn"}, r.scenarioSrv...)
	// The demo's abuse limits (per-IP publish and connection rates) are
	// protections, not what is measured: a load generator is one client
	// IP (or a few) doing the work of thousands. A server binary that has
	// them gets them off; older ones (results/where-time-goes.sh) do not
	// know the flags.
	if r.serverKnows("--publish-rate") {
		args = append(args, "--publish-rate", "0", "--conn-rate", "0")
	}
	if r.Config.SSERetry > 0 {
		args = append(args, "--sse-retry", r.Config.SSERetry.D().String())
	}
	args = append(args, r.Config.deployFlags(r.Config.legNames())...) // TLS, compression (legs.go)
	return append(args, r.Config.ServerArgs...)
}

// specs splits n clients of a transport over the worker processes.
func (r *Runner) specs(transport string, targets []*target, streams []StreamSpec, n int, tweak func(*WorkerSpec)) []WorkerSpec {
	c := r.Config
	procs := min(c.ProcsFor(n), max(n, 1))
	urls := make([]string, len(targets))
	for i, t := range targets {
		urls[i] = t.url
	}
	ips := c.SourceIPs
	if len(ips) == 0 && isLoopback(urls) {
		ips = autoSourceIPs(n, 4000)
	}
	backoff := c.WSBackoff
	if transport == SSE {
		backoff = c.SSEBackoff
	}
	out := make([]WorkerSpec, 0, procs)
	first := 0
	for w := range procs {
		count := n / procs
		if w < n%procs {
			count++
		}
		s := WorkerSpec{
			Transport: transport, Targets: urls, Adapters: adapterSpecs(targets), Streams: streams, First: first, Count: count,
			SourceIPs: ips, Backoff: backoff, ConnectRate: c.RampRate / float64(procs),
		}
		if c.ProfileDir != "" && !c.InProcess {
			s.CPUProfile = filepath.Join(c.ProfileDir, fmt.Sprintf("worker-%s-%d.pprof", transport, w))
		}
		if tweak != nil {
			tweak(&s)
		}
		out = append(out, s)
		first += count
	}
	return out
}

// runID names this run's topics so that runs against a shared server do
// not see each other's events.
func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// streamPath is the multi-topic stream path of a transport for topics.
func streamPath(transport string, topics ...string) string {
	var b strings.Builder
	b.WriteString("/" + transport)
	for i, t := range topics {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString("topic=" + t)
	}
	return b.String()
}

// settleServer waits until the servers report at least want connections of
// the transport in total (when /api/stats says), so that every subscriber is
// attached before the first event.
func settleServer(ctx context.Context, targets []*target, transport string, want int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		total, known := 0, true
		for _, t := range targets {
			n, ok := t.connections(ctx, transport)
			known = known && ok
			total += n
		}
		if !known || total >= want {
			return known
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// serverKnows reports whether the spawned server binary takes flag (it is
// in its -h output). The answer is cached per flag.
func (r *Runner) serverKnows(flag string) bool {
	r.knowsMu.Lock()
	defer r.knowsMu.Unlock()
	if v, ok := r.knows[flag]; ok {
		return v
	}
	if r.knows == nil {
		r.knows = map[string]bool{}
	}
	out, _ := exec.Command(r.serverBin, "-h").CombinedOutput() // -h exits 0 or 2; either prints the flags
	v := bytes.Contains(out, []byte("-"+strings.TrimLeft(flag, "-")+" "))
	r.knows[flag] = v
	return v
}
