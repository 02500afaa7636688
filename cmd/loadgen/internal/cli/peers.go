package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

// runPeers is `loadgen peers`: our demo server, Centrifugo and the
// seed-style FastAPI server, each spawned fresh per transport, through the
// same workloads (fanout at each --subscribers count, connect of
// --connections, a reconnect storm of --reconnect-subscribers), one
// side-by-side report in --out (default results/peers). Every scenario
// flag applies; sizes shrink the suite for a quick look:
//
//	loadgen peers --subscribers 100 --connections 200 --reconnect-subscribers 100 --duration 5s --hold 2s
func runPeers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	s := bench.PeersDefaults()
	peers, reconnect := strings.Join(s.Peers, ","), s.Reconnect
	o, err := parseFlagsOver("", s.Base, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&peers, "peers", peers, "peers: servers to compare (twinstream, centrifugo, fastapi)")
		fs.IntVar(&reconnect, "reconnect-subscribers", reconnect, "peers: subscribers of the reconnect storm (0 skips it)")
	})
	if err != nil {
		return usageError(err, stderr)
	}
	c := o.cfg
	if len(c.Targets) > 0 || c.Spawn != "" {
		return usageError(fmt.Errorf("peers spawns its servers: --target and --spawn do not apply"), stderr)
	}
	// --subscribers sets the fanout steps; --connections the connect step.
	if subscribersGiven(args) {
		s.Fanout = c.Subscribers
	}
	s.Connections, s.Reconnect = c.Connections, reconnect
	if !flagGiven(args, "connections") {
		s.Connections = bench.PeersDefaults().Connections
	}
	s.Peers = splitList(peers)
	s.Base = c
	for _, sc := range []string{bench.ScenarioFanout, bench.ScenarioConnect, bench.ScenarioReconnect} {
		check := c
		check.Subscribers = []int{max(1, reconnect)}
		if sc == bench.ScenarioFanout {
			check.Subscribers = s.Fanout
		}
		check.Connections = max(1, s.Connections)
		if err := check.Validate(sc); err != nil {
			return usageError(err, stderr)
		}
	}
	out := o.out
	if out == "results" { // the scenarios' default: peers writes into its own directory
		out = s.Out
	}
	s.Out, s.Log = out, stderr
	if o.quiet {
		s.Log = nil
	}
	s.Command = "go run ./cmd/loadgen peers"
	if shown := withoutServerBin(args); len(shown) > 0 {
		s.Command += " " + strings.Join(shown, " ")
	}
	start := time.Now()
	pr, err := s.Run(ctx)
	code := ExitOK
	if err != nil {
		fmt.Fprintf(stderr, "loadgen peers: %v\n", err)
		code = ExitError
	}
	if pr == nil {
		return code
	}
	if pr.Interrupted {
		fmt.Fprintf(stderr, "loadgen: interrupted; writing what was measured\n")
		code = ExitInterrupted
	}
	files, rerr := report.WritePeers(out)
	if rerr != nil {
		fmt.Fprintf(stderr, "loadgen peers: report: %v\n", rerr)
		return ExitError
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			fmt.Fprintf(stdout, "wrote %s (%d runs, %s)\n", f, len(pr.Runs), time.Since(start).Round(time.Second))
		}
	}
	return code
}

func subscribersGiven(args []string) bool { return flagGiven(args, "subscribers") }

// flagGiven reports whether args set the flag name.
func flagGiven(args []string, name string) bool {
	for _, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}
