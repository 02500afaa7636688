package bench

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// SpawnKinds lists the servers loadgen can spawn (Config.Spawn, --spawn).
var SpawnKinds = []string{KindTwinstream, KindCentrifugo, SpawnFastAPI}

// SpawnFastAPI is the seed-style FastAPI peer (bench/peers/fastapi), a
// custom target loadgen spawns.
const SpawnFastAPI = "fastapi"

// spawnKind is the server to spawn ("twinstream" when unset).
func (c Config) spawnKind() string {
	if c.Spawn == "" {
		return KindTwinstream
	}
	return c.Spawn
}

// Scenario names.
const (
	ScenarioFanout    = "fanout"
	ScenarioConnect   = "connect"
	ScenarioReconnect = "reconnect"
	ScenarioTasks     = "tasks"
	ScenarioSweep     = "sweep"
)

// Scenarios lists every scenario, in the order `loadgen full` runs them.
var Scenarios = []string{ScenarioFanout, ScenarioSweep, ScenarioConnect, ScenarioReconnect, ScenarioTasks, ScenarioHazards, ScenarioCompression}

// DefaultSuite lists the scenarios of the default comparison (`loadgen`
// with no command): every one but the long saturation sweep.
var DefaultSuite = []string{ScenarioFanout, ScenarioConnect, ScenarioReconnect, ScenarioTasks}

// Transport names.
const (
	WS  = "ws"
	SSE = "sse"
)

// Config is the full configuration of a run; it is recorded in the result.
// Zero fields take the defaults of Defaults(scenario).
type Config struct {
	// Targets are the servers under test, each "[KIND=]URL" (see
	// ParseTarget and TargetKinds: twinstream=http://host:port, the
	// default kind; centrifugo=http://host:port; custom=FILE, a target
	// file). Empty means loadgen spawns the server itself (Spawn), a fresh
	// one per transport.
	Targets []string `json:"targets,omitempty"`
	// Spawn is the kind of server loadgen spawns when Targets is empty:
	// "twinstream" (the default, the demo server), "centrifugo" (a
	// Centrifugo v6 binary with a config generated per run) or "fastapi"
	// (the seed-style peer in bench/peers/fastapi, run with uvicorn).
	Spawn string `json:"spawn,omitempty"`
	// APIKey is a centrifugo target's HTTP API key (X-API-Key).
	APIKey string `json:"-"`
	// TokenSecret is a centrifugo target's client.token.hmac_secret_key:
	// with it the clients connect as a user, which the reconnect scenario
	// can drop; without it they connect anonymously.
	TokenSecret string `json:"-"`
	// CentrifugoBin is the Centrifugo binary to spawn (default: centrifugo
	// on PATH or in $(go env GOPATH)/bin).
	CentrifugoBin string `json:"centrifugo_bin,omitempty"`
	// Python is the interpreter that runs the FastAPI peer (default: the
	// first of /usr/bin/python3 and python3 that imports fastapi and
	// uvicorn).
	Python     string   `json:"python,omitempty"`
	Transports []string `json:"transports"`

	Subscribers []int    `json:"subscribers,omitempty"` // per transport; several values sweep (fanout)
	Topics      int      `json:"topics,omitempty"`      // subscribers are spread over this many topics
	Rate        float64  `json:"rate,omitempty"`        // events/s published on each topic
	Size        int      `json:"size,omitempty"`        // bytes of each event's data
	Duration    Duration `json:"duration,omitempty"`    // publishing schedule: round(Rate × Duration) events per topic, all sent however slow the server
	Drain       Duration `json:"drain,omitempty"`       // longest wait for deliveries after the last publish

	Connections int      `json:"connections,omitempty"` // connect: per transport
	RampRate    float64  `json:"ramp_rate,omitempty"`   // new connections/s, all workers together
	Hold        Duration `json:"hold,omitempty"`        // connect: how long the peak is held

	ReconnectMode string   `json:"reconnect_mode,omitempty"` // reconnect: "drop" (admin endpoint) or "restart" (spawned server)
	Settle        Duration `json:"settle,omitempty"`         // reconnect: steady stream before the drop, and after everyone is back
	DropPace      Duration `json:"drop_pace,omitempty"`      // reconnect: the server spreads the drop over this long (admin drop ?pace=; 0: all at once)

	Tasks      int `json:"tasks,omitempty"`        // tasks: concurrent tasks
	Watchers   int `json:"watchers,omitempty"`     // tasks: watchers per task per transport
	TaskFiles  int `json:"task_files,omitempty"`   // tasks: "files" of each task
	TaskStepMS int `json:"task_step_ms,omitempty"` // tasks: "step_ms" of each task

	Procs     int      `json:"procs"`                // worker processes per transport (0 = automatic)
	SourceIPs []string `json:"source_ips,omitempty"` // local addresses clients bind to

	WSBackoff   BackoffConfig `json:"ws_backoff"`            // WebSocket client reconnect schedule
	SSEBackoff  BackoffConfig `json:"sse_backoff"`           // SSE client schedule; the server's retry: replaces Initial
	SSERetry    Duration      `json:"sse_retry,omitempty"`   // retry: the spawned server announces (--sse-retry)
	AdminToken  string        `json:"-"`                     // bearer token for the admin endpoint of a target
	ServerBin   string        `json:"server_bin,omitempty"`  // demo server binary (built when empty)
	ServerArgs  []string      `json:"server_args,omitempty"` // extra arguments for the spawned server
	InProcess   bool          `json:"in_process,omitempty"`  // workers as goroutines (tests); not for big runs
	ClientsPerP int           `json:"clients_per_proc"`      // automatic --procs divisor
	ProfileDir  string        `json:"profile_dir,omitempty"` // workers write CPU profiles here (worker-<transport>-<n>.pprof)
	// ServerCPUProfile, when set, saves a CPU profile of each spawned
	// server over each publishing phase (fanout, sweep): the server runs
	// with --pprof on a free loopback port, and the file name gets the
	// transport (and the step) before its extension (see ProfilePath).
	ServerCPUProfile string `json:"server_cpuprofile,omitempty"`

	// NoFloor skips the floor (fanout, sweep; --floor=false).
	NoFloor bool `json:"no_floor,omitempty"`

	// Hazards names the hazards the hazards scenario runs (default: every
	// one, see Hazards; --hazards).
	Hazards []string `json:"hazards,omitempty"`

	// SSEHTTP are the HTTP versions SSE runs over (--sse-http 1, 2 or 1,2;
	// default 1): with 2, SSE clients multiplex their streams over HTTP/2
	// (result key "sse-h2") and every transport of the run speaks TLS to
	// a spawned server with --tls-self-signed. WSCompression is the
	// WebSocket permessage-deflate mode (--ws-compression disabled,
	// context-takeover, no-context-takeover; results "ws-deflate",
	// "ws-deflate-nct") and SSEGzip gzip on SSE streams (--sse-gzip;
	// "sse-gzip"): the spawned server offers them, the clients ask.
	SSEHTTP       []int  `json:"sse_http,omitempty"`
	WSCompression string `json:"ws_compression,omitempty"`
	SSEGzip       bool   `json:"sse_gzip,omitempty"`
	// Payload is the kind of event data (--payload padding, progress,
	// doc2k; payloads.go). Default padding.
	Payload string `json:"payload,omitempty"`

	// The sweep scenario: at Subscribers[0] subscribers, the rate starts at
	// SweepStart events/s per topic, then takes each multiple of SweepStep
	// above it (10, 20, 40, 60… for 10 and 20) up to SweepMax; each step
	// publishes for Duration. A transport stops at its first step whose
	// p99 latency from schedule exceeds SweepP99 or that delivered fewer
	// events than expected.
	SweepStart float64  `json:"sweep_start,omitempty"`
	SweepStep  float64  `json:"sweep_step,omitempty"`
	SweepMax   float64  `json:"sweep_max,omitempty"`
	SweepP99   Duration `json:"sweep_p99,omitempty"`
}

// BackoffConfig is transports.Backoff in JSON form.
type BackoffConfig struct {
	Initial    Duration `json:"initial"`
	Max        Duration `json:"max"`
	Multiplier float64  `json:"multiplier"`
	Jitter     float64  `json:"jitter"`
}

// Backoff converts to transports.Backoff.
func (b BackoffConfig) Backoff() transports.Backoff {
	return transports.Backoff{Initial: b.Initial.D(), Max: b.Max.D(), Multiplier: b.Multiplier, Jitter: b.Jitter}
}

// DefaultClientsPerProc is how many clients one worker process holds when
// --procs is automatic. A process may open at most 20,000 files here; 9,000
// leaves room for a second transport's stragglers and the runtime.
const DefaultClientsPerProc = 9000

// Defaults returns the default configuration of a scenario: modest sizes
// that a 2-core machine runs in well under a minute per transport.
func Defaults(scenario string) Config {
	c := Config{
		Transports:    []string{WS, SSE},
		Subscribers:   []int{500},
		Topics:        1,
		Rate:          10,
		Size:          100,
		Duration:      Duration(10 * time.Second),
		Drain:         Duration(10 * time.Second),
		Connections:   1000,
		RampRate:      1000,
		Hold:          Duration(10 * time.Second),
		ReconnectMode: "drop",
		Settle:        Duration(3 * time.Second),
		Tasks:         20,
		Watchers:      10,
		TaskFiles:     10,
		TaskStepMS:    100,
		WSBackoff: BackoffConfig{Initial: Duration(250 * time.Millisecond), Max: Duration(10 * time.Second),
			Multiplier: 2, Jitter: 0.5},
		// Browser-style EventSource: wait exactly the server's retry:, no jitter.
		SSEBackoff: BackoffConfig{Initial: Duration(250 * time.Millisecond), Max: Duration(10 * time.Second),
			Multiplier: 2, Jitter: -1},
		ClientsPerP: DefaultClientsPerProc,
	}
	switch scenario {
	case ScenarioFanout:
		c.Subscribers = []int{100, 500, 1000}
	case ScenarioCompression: // 1,000 subscribers, 10 events/s, 10 s per payload and leg (compression.go)
		c.Subscribers = []int{1000}
	case ScenarioSweep:
		c.Subscribers = []int{5000}
		c.SweepStart, c.SweepStep, c.SweepMax = 10, 20, 400
		c.SweepP99 = Duration(time.Second)
		c.Duration = Duration(10 * time.Second)
	}
	return c
}

// SweepRates lists the sweep scenario's rates: SweepStart, then every
// multiple of SweepStep above it, up to SweepMax.
func (c Config) SweepRates() []float64 {
	if c.SweepStart <= 0 {
		return nil
	}
	out := []float64{c.SweepStart}
	if c.SweepStep <= 0 {
		return out
	}
	for k := math.Floor(c.SweepStart/c.SweepStep) + 1; k*c.SweepStep <= c.SweepMax && len(out) < 1000; k++ {
		out = append(out, k*c.SweepStep)
	}
	return out
}

// Clients is the number of clients per transport the scenario opens.
func (c Config) Clients(scenario string) int {
	switch scenario {
	case ScenarioConnect:
		return c.Connections
	case ScenarioTasks:
		return c.Tasks * c.Watchers
	}
	return slices.Max(append([]int{0}, c.Subscribers...))
}

// ProcsFor returns the worker processes for n clients: --procs, or
// ceil(n / clients per process).
func (c Config) ProcsFor(n int) int {
	if c.Procs > 0 {
		return c.Procs
	}
	per := c.ClientsPerP
	if per <= 0 {
		per = DefaultClientsPerProc
	}
	return max(1, int(math.Ceil(float64(n)/float64(per))))
}

// Validate checks the configuration of a scenario.
func (c Config) Validate(scenario string) error {
	if !slices.Contains(Scenarios, scenario) {
		return fmt.Errorf("unknown scenario %q (want one of %v)", scenario, Scenarios)
	}
	if len(c.Transports) == 0 {
		return fmt.Errorf("--transports is empty")
	}
	for _, t := range c.Transports {
		if t != WS && t != SSE {
			return fmt.Errorf("--transports: unknown transport %q (want ws, sse)", t)
		}
	}
	for _, t := range c.Targets {
		spec, err := ParseTarget(t)
		if err != nil {
			return err
		}
		if spec.Kind == KindCustom {
			if _, err := LoadTargetFile(spec.URL); err != nil {
				return fmt.Errorf("--target %s: %w", t, err)
			}
		}
	}
	if !slices.Contains(append([]string{""}, SpawnKinds...), c.Spawn) {
		return fmt.Errorf("--spawn: unknown server %q (want %s)", c.Spawn, strings.Join(SpawnKinds, ", "))
	}
	if c.Spawn != "" && c.Spawn != KindTwinstream && len(c.Targets) > 0 {
		return fmt.Errorf("--spawn %s and --target: give one", c.Spawn)
	}
	switch scenario {
	case ScenarioFanout, ScenarioReconnect, ScenarioSweep, ScenarioCompression:
		if len(c.Subscribers) == 0 || slices.Min(c.Subscribers) < 1 {
			return fmt.Errorf("--subscribers must be at least 1")
		}
		if scenario == ScenarioSweep {
			if len(c.Subscribers) != 1 {
				return fmt.Errorf("sweep: give one --subscribers count (the rate is what rises)")
			}
			if c.SweepStart <= 0 || c.SweepStep < 0 || c.SweepMax > 100_000 || c.SweepMax < c.SweepStart {
				return fmt.Errorf("sweep: want 0 < --sweep-start ≤ --sweep-max ≤ 100000 and --sweep-step ≥ 0")
			}
			if c.SweepP99 <= 0 {
				return fmt.Errorf("--sweep-p99 must be positive")
			}
		} else if c.Rate <= 0 || c.Rate > 100_000 {
			return fmt.Errorf("--rate must be in (0, 100000] events/s")
		}
		if c.Size < 0 || c.Size > 1<<20 {
			return fmt.Errorf("--size must be in [0, 1 MiB]")
		}
		if c.Duration <= 0 {
			return fmt.Errorf("--duration must be positive")
		}
		if c.Topics < 1 {
			return fmt.Errorf("--topics must be at least 1")
		}
	case ScenarioConnect:
		if c.Connections < 1 {
			return fmt.Errorf("--connections must be at least 1")
		}
		if c.Hold < 0 {
			return fmt.Errorf("--hold must not be negative")
		}
	case ScenarioTasks:
		if c.Tasks < 1 || c.Watchers < 1 {
			return fmt.Errorf("--tasks and --watchers must be at least 1")
		}
	}
	if scenario == ScenarioReconnect && c.ReconnectMode != "drop" && c.ReconnectMode != "restart" {
		return fmt.Errorf("--mode must be drop or restart")
	}
	if scenario == ScenarioReconnect && c.ReconnectMode == "restart" && len(c.Targets) > 0 {
		return fmt.Errorf("--mode restart needs a spawned server (no --target)")
	}
	if c.ServerCPUProfile != "" && c.spawnKind() != KindTwinstream {
		return fmt.Errorf("--server-cpuprofile needs a spawned twinstream demo server")
	}
	if err := c.validateDeploy(); err != nil { // (legs.go)
		return err
	}
	if scenario == ScenarioHazards {
		if len(c.Targets) > 0 {
			return fmt.Errorf("hazards: the scenario spawns its own demo servers (no --target)")
		}
		if err := hazardNames(c.Hazards); err != nil {
			return err
		}
	}
	if c.RampRate < 0 {
		return fmt.Errorf("--ramp-rate must not be negative")
	}
	if c.ServerCPUProfile != "" && len(c.Targets) > 0 {
		return fmt.Errorf("--server-cpuprofile needs a spawned server (no --target)")
	}
	return nil
}

// ProfilePath is where the server CPU profile of one publishing phase goes:
// ServerCPUProfile with "-<transport>" and, when the run has several
// steps, "-<step>" inserted before its extension (server.pprof →
// server-ws.pprof, server-ws-5000.pprof, server-sse-20eps.pprof).
func (c Config) ProfilePath(transport, step string) string {
	p := c.ServerCPUProfile
	ext := filepath.Ext(p)
	base := strings.TrimSuffix(p, ext)
	if step != "" {
		return base + "-" + transport + "-" + step + ext
	}
	return base + "-" + transport + ext
}
