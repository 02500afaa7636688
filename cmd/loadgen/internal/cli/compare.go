package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

// targetGroup is the --target entries of one server: several entries of
// one kind are nodes of one system (clients spread over them, every event
// published to each); entries of different kinds are different servers.
type targetGroup struct {
	label   string // the kind, or a custom target file's name
	targets []string
}

// targetGroups groups --target entries by server, in the order given.
func targetGroups(targets []string) []targetGroup {
	var out []targetGroup
	for _, t := range targets {
		label := bench.KindTwinstream
		if spec, err := bench.ParseTarget(t); err == nil {
			label = spec.Kind
			if spec.Kind == bench.KindCustom {
				if f, err := bench.LoadTargetFile(spec.URL); err == nil {
					label = f.Name
				}
			}
		}
		i := slices.IndexFunc(out, func(g targetGroup) bool { return g.label == label })
		if i < 0 {
			out = append(out, targetGroup{label: label})
			i = len(out) - 1
		}
		out[i].targets = append(out[i].targets, t)
	}
	return out
}

// runCompare runs a scenario once per server of --target
// (twinstream=…,centrifugo=…) and puts them side by side: each run's
// result and report, and the comparison (the peers report) in
// <out>/compare-<scenario>-<date>/.
func runCompare(ctx context.Context, o options, scenario string, args []string, groups []targetGroup, stdout, stderr io.Writer) int {
	if strings.HasSuffix(o.out, ".json") {
		return usageError(fmt.Errorf("--out is a directory when --target names servers of several kinds"), stderr)
	}
	start := time.Now()
	dir := filepath.Join(o.out, "compare-"+scenario+"-"+start.UTC().Format("20060102-150405"))
	pr := &bench.PeersResult{StartedAt: start.UTC(), Transports: o.cfg.Transports, Targets: map[string][]string{},
		Command: strings.TrimSpace("go run ./cmd/loadgen " + scenario + " " + strings.Join(args, " "))}
	size := slices.Max(append([]int{0}, o.cfg.Subscribers...))
	if scenario == bench.ScenarioConnect {
		size = o.cfg.Connections
	}
	code := ExitOK
	for _, g := range groups {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(stderr, "== %s against %s (%s) ==\n", scenario, g.label, strings.Join(g.targets, ","))
		og := o
		og.cfg.Targets = g.targets
		pr.Peers = append(pr.Peers, g.label)
		pr.Targets[g.label] = g.targets
		run := bench.PeerRun{Peer: g.label, Scenario: scenario, Size: size}
		res, c := runScenario(ctx, og, scenario, stderr)
		code = max(code, c)
		if res == nil {
			run.Error = "no result (see the log)"
			pr.Runs = append(pr.Runs, run)
			continue
		}
		if pr.Env.GoVersion == "" {
			pr.Env = res.Env
		}
		run.File = fmt.Sprintf("%s-%s.json", scenario, g.label)
		if c := finishRun(res, filepath.Join(dir, run.File), og, c, stdout, stderr); c != ExitOK {
			code = max(code, c)
		}
		pr.Runs = append(pr.Runs, run)
	}
	pr.EndedAt = time.Now().UTC()
	pr.Interrupted = ctx.Err() != nil
	if err := pr.WriteJSON(dir); err != nil {
		fmt.Fprintf(stderr, "loadgen: %v\n", err)
		return ExitError
	}
	files, err := report.WritePeers(dir)
	if err != nil {
		fmt.Fprintf(stderr, "loadgen: report: %v\n", err)
		return ExitError
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			fmt.Fprintf(stdout, "wrote %s (side by side: %s)\n", f, strings.Join(pr.Peers, ", "))
		}
	}
	return code
}
