package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// PeersSuite is `loadgen peers`: the same workloads, with the same client
// code, against our demo server, Centrifugo and the seed-style FastAPI
// server, each spawned fresh per transport: fanout at each subscriber
// count, connect, and a reconnect storm. Every run is a Result of its own
// (Out/<scenario>-<size>-<peer>.json); PeersResult lists them for the
// side-by-side report (bench/report's WritePeers).
type PeersSuite struct {
	// Base holds what every run shares: transports, rate, size, duration,
	// drain, hold, settle, ramp rate, procs, binaries… (start from
	// PeersDefaults). Its Spawn, Targets and sizes are set per run.
	Base Config
	// Peers are the servers compared (SpawnKinds; default all).
	Peers []string
	// Fanout is the subscriber count of each fanout step (1000, 5000).
	Fanout []int
	// Connections is the connect scenario's connections (10000).
	Connections int
	// Reconnect is the reconnect storm's subscribers (5000).
	Reconnect int
	// Out is the directory the results go to.
	Out string
	// Log receives progress (nil discards).
	Log io.Writer
	// ModuleDir is the twinstream checkout (default: found from the
	// working directory).
	ModuleDir string
	// Command is the command line recorded in the index.
	Command string
	// Runner, when set, returns the Runner of one run (tests set in-process
	// workers here); default &Runner{Config: c, Log: Log}.
	Runner func(c Config) *Runner
}

// PeersDefaults is the full-size suite: fanout of 1,000 and 5,000
// subscribers × 10 events/s of 100 bytes for 30 s, 10,000 idle
// connections held 30 s, a storm of 5,000 subscribers dropped at once.
func PeersDefaults() PeersSuite {
	c := Defaults(ScenarioFanout)
	c.Rate, c.Size = 10, 100
	c.Duration = Duration(30 * time.Second)
	c.Drain = Duration(120 * time.Second)
	c.RampRate = 1000
	c.Hold = Duration(30 * time.Second)
	c.Settle = Duration(5 * time.Second)
	return PeersSuite{
		Base: c, Peers: SpawnKinds, Fanout: []int{1000, 5000}, Connections: 10000, Reconnect: 5000, Out: "results/peers",
	}
}

// PeersResult is the suite's index (Out/peers.json).
type PeersResult struct {
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	Command     string    `json:"command,omitempty"`
	Peers       []string  `json:"peers"`
	Transports  []string  `json:"transports"`
	Runs        []PeerRun `json:"runs"`
	Interrupted bool      `json:"interrupted"`
	Env         Env       `json:"env"`
	// Targets, for a comparison of --target servers (not spawned peers),
	// is each one's --target entries.
	Targets map[string][]string `json:"targets,omitempty"`
}

// WriteJSON writes the index to dir/peers.json (creating dir).
func (pr *PeersResult) WriteJSON(dir string) error {
	b, err := json.MarshalIndent(pr, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "peers.json"), append(b, '\n'), 0o644)
}

// PeerRun is one scenario step against one peer.
type PeerRun struct {
	Peer     string `json:"peer"`
	Scenario string `json:"scenario"`
	Size     int    `json:"size"` // subscribers (fanout, reconnect) or connections (connect)
	File     string `json:"file,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Step names a run's workload: "fanout 1000".
func (p PeerRun) Step() string { return fmt.Sprintf("%s %d", p.Scenario, p.Size) }

// Check finds (or, for Centrifugo, installs) every peer's program before
// anything runs, so that a missing peer fails the suite at once.
func (s *PeersSuite) Check(ctx context.Context) error {
	for _, p := range s.Peers {
		switch p {
		case KindTwinstream:
		case KindCentrifugo:
			bin, err := FindCentrifugo(s.Base.CentrifugoBin)
			if err != nil && s.Base.CentrifugoBin == "" {
				bin, err = InstallCentrifugo(ctx, s.logw())
			}
			if err != nil {
				return err
			}
			s.Base.CentrifugoBin = bin
		case SpawnFastAPI:
			py, err := FindPython(s.Base.Python)
			if err != nil {
				return err
			}
			s.Base.Python = py
		default:
			return fmt.Errorf("peers: unknown peer %q (want %v)", p, SpawnKinds)
		}
	}
	return nil
}

func (s *PeersSuite) logw() io.Writer {
	if s.Log == nil {
		return io.Discard
	}
	return s.Log
}

// Run runs every step against every peer, writes each result and the
// index into Out, and returns the index. A run that fails is recorded
// with its error and the suite goes on; a cancelled ctx ends it early
// (Interrupted).
func (s *PeersSuite) Run(ctx context.Context) (*PeersResult, error) {
	if len(s.Peers) == 0 {
		s.Peers = SpawnKinds
	}
	mod := s.ModuleDir
	if mod == "" {
		mod = ModuleDir()
	}
	if err := s.Check(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return nil, err
	}
	res := &PeersResult{StartedAt: time.Now().UTC(), Command: s.Command, Peers: s.Peers, Transports: s.Base.Transports, Env: CaptureEnv(ctx, mod)}
	if s.Base.ServerBin == "" && containsPeer(s.Peers, KindTwinstream) {
		dir, err := os.MkdirTemp("", "twinstream-peers-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(s.logw(), "building the demo server (./cmd/demo) into %s\n", dir)
		if s.Base.ServerBin, err = BuildServer(ctx, mod, dir); err != nil {
			return nil, err
		}
	}
	type step struct {
		scenario string
		size     int
	}
	var steps []step
	for _, n := range s.Fanout {
		steps = append(steps, step{ScenarioFanout, n})
	}
	if s.Connections > 0 {
		steps = append(steps, step{ScenarioConnect, s.Connections})
	}
	if s.Reconnect > 0 {
		steps = append(steps, step{ScenarioReconnect, s.Reconnect})
	}
	var errs []error
	for _, st := range steps {
		for _, peer := range s.Peers {
			if ctx.Err() != nil {
				break
			}
			run := PeerRun{Peer: peer, Scenario: st.scenario, Size: st.size}
			fmt.Fprintf(s.logw(), "== peers: %s against %s ==\n", run.Step(), peer)
			r, err := s.runOne(ctx, peer, st.scenario, st.size, mod)
			if r != nil {
				run.File = fmt.Sprintf("%s-%d-%s.json", st.scenario, st.size, peer)
				if werr := r.WriteJSON(filepath.Join(s.Out, run.File)); werr != nil {
					err = errors.Join(err, werr)
				}
			}
			if err != nil {
				run.Error = err.Error()
				errs = append(errs, fmt.Errorf("%s against %s: %w", run.Step(), peer, err))
				fmt.Fprintf(s.logw(), "peers: %s against %s: %v\n", run.Step(), peer, err)
			}
			res.Runs = append(res.Runs, run)
		}
	}
	res.EndedAt = time.Now().UTC()
	res.Interrupted = ctx.Err() != nil
	if err := res.WriteJSON(s.Out); err != nil {
		return res, err
	}
	return res, errors.Join(errs...)
}

func containsPeer(peers []string, p string) bool {
	for _, x := range peers {
		if x == p {
			return true
		}
	}
	return false
}

// runOne runs one scenario step against a peer.
func (s *PeersSuite) runOne(ctx context.Context, peer, scenario string, size int, mod string) (*Result, error) {
	c := s.Base
	c.Targets, c.Spawn = nil, peer
	switch scenario {
	case ScenarioConnect:
		c.Connections = size
	default:
		c.Subscribers = []int{size}
	}
	// The floor is this machine's, whatever the server: it runs once per
	// fanout step, beside our server.
	c.NoFloor = c.NoFloor || peer != KindTwinstream
	var r *Runner
	if s.Runner != nil {
		r = s.Runner(c)
	} else {
		r = &Runner{Config: c, Log: s.Log}
	}
	if r.ModuleDir == "" {
		r.ModuleDir = mod
	}
	res, err := r.Run(ctx, scenario)
	if res != nil && res.Interrupted {
		err = nil
	}
	return res, err
}

// ReadPeers reads a suite's index and every result it lists (a run
// without a file has a nil result).
func ReadPeers(dir string) (*PeersResult, []*Result, error) {
	b, err := os.ReadFile(filepath.Join(dir, "peers.json"))
	if err != nil {
		return nil, nil, err
	}
	var pr PeersResult
	if err := json.Unmarshal(b, &pr); err != nil {
		return nil, nil, fmt.Errorf("bench: %s/peers.json: %w", dir, err)
	}
	out := make([]*Result, len(pr.Runs))
	for i, run := range pr.Runs {
		if run.File == "" {
			continue
		}
		if out[i], err = ReadResult(filepath.Join(dir, run.File)); err != nil {
			return nil, nil, err
		}
	}
	return &pr, out, nil
}
