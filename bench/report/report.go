// Package report turns loadgen results (bench.Result JSON) into Markdown
// with tables and SVG charts (gonum/plot), and into the terminal summary.
package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/twinstream/twinstream/bench"
)

// Write reads every result file and writes, next to each, <name>.md and
// its charts <name>-<chart>.svg. The latency-vs-subscribers chart of a
// fanout result uses every fanout result given. It returns the files
// written.
func Write(paths []string) ([]string, error) {
	results := make([]*bench.Result, 0, len(paths))
	for _, p := range paths {
		r, err := bench.ReadResult(p)
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	var written []string
	for i, r := range results {
		base := strings.TrimSuffix(paths[i], filepath.Ext(paths[i]))
		charts, err := writeCharts(base, r, results)
		written = append(written, charts...)
		if err != nil {
			return written, err
		}
		md := base + ".md"
		f, err := os.Create(md)
		if err != nil {
			return written, err
		}
		rel := make([]string, len(charts))
		for j, c := range charts {
			rel[j] = filepath.Base(c)
		}
		Markdown(f, r, rel)
		if err := f.Close(); err != nil {
			return written, err
		}
		written = append(written, md)
	}
	dirs := map[string]bool{}
	for _, p := range paths {
		dirs[filepath.Dir(p)] = true
	}
	for _, dir := range sortedKeys(dirs) { // the facts of every directory written to (deploy.go)
		f, err := WriteDeploymentFacts(dir)
		if err != nil {
			return written, err
		}
		if f != "" {
			written = append(written, f)
		}
	}
	return written, nil
}

// writeCharts draws the charts that apply to r.
func writeCharts(base string, r *bench.Result, all []*bench.Result) ([]string, error) {
	type named struct {
		suffix string
		c      chart
	}
	var list []named
	if hasLatency(r) {
		list = append(list, named{"latency-cdf", latencyCDF(r)})
		list = append(list, named{"p99-over-time", overTime(r, "p99 latency each second", "p99 (ms)",
			func(s bench.Sample) (float64, bool) { return s.P99MS, s.P99MS > 0 })})
	}
	if r.Scenario == bench.ScenarioFanout {
		list = append(list, named{"latency-vs-subscribers", latencyVsSubscribers(all)})
	}
	if r.Scenario == bench.ScenarioSweep {
		list = append(list, named{"saturation", saturation(r)})
	}
	list = append(list,
		named{"connections", overTime(r, "connections held", "connections",
			func(s bench.Sample) (float64, bool) { return float64(s.Connections), true })},
		named{"memory", overTime(r, "server memory (RSS)", "RSS (MB)",
			func(s bench.Sample) (float64, bool) { return float64(s.ServerRSSBytes) / 1e6, s.ServerRSSBytes > 0 })},
	)
	if r.Scenario == bench.ScenarioReconnect {
		rate, back := reconnectTimeline(r)
		list = append(list, named{"reconnect-timeline", rate}, named{"reconnect-back", back})
	}
	var out []string
	for _, n := range list {
		path := base + "-" + n.suffix + ".svg"
		switch err := n.c.save(path); {
		case errors.Is(err, errNoData):
			continue
		case err != nil:
			return out, err
		}
		out = append(out, path)
	}
	return out, nil
}

func hasLatency(r *bench.Result) bool {
	for _, t := range r.Transports {
		if t.LatencyMS.Count > 0 {
			return true
		}
	}
	return false
}

// transportsOf lists a result's transports in the configured order.
func transportsOf(r *bench.Result) []string {
	var out []string
	for _, t := range r.Config.Transports {
		if _, ok := r.Transports[t]; ok && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, t := range sortedKeys(r.Transports) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

// Markdown writes the report of one result; charts are file names relative
// to the Markdown file.
func Markdown(w io.Writer, r *bench.Result, charts []string) {
	ts := transportsOf(r)
	fmt.Fprintf(w, "# %s: %s\n\n", r.Scenario, strings.Join(ts, " vs "))
	if r.Interrupted {
		fmt.Fprintf(w, "**Interrupted**: the run was stopped early; figures cover what was measured.\n\n")
	}
	fmt.Fprintf(w, "%s\n\n", describe(r))
	if r.Scenario == bench.ScenarioCompression { // per payload and mode (deploy.go)
		writeCompression(w, r)
	}
	if r.Hazards != nil { // no transports to compare: what each configuration did (deploy.go)
		writeHazards(w, r)
		fmt.Fprintf(w, "## Environment\n\n%s\n", envText(r))
		return
	}
	if len(r.Saturation) > 0 {
		fmt.Fprintf(w, "## Saturation\n\n")
		writeSaturation(w, r)
		fmt.Fprintf(w, "\nThe table below is each one's highest step that met the limit (or its first step, when none did); every step is under Sweep.\n\n")
	}
	cols := columnsOf(r)
	writeTable(w, cols)
	if r.Floor != nil {
		fmt.Fprintf(w, "\nThe floor is not a transport: the same workload written as plain TCP, one write per delivery, by a process of its own, read by plain TCP readers (see Definitions). \"× floor\" divides a transport's figure by the floor's.\n")
	}
	if f := failures(r, cols); f != "" {
		fmt.Fprintf(w, "\n%s", f)
	}
	if len(r.Sweep) > 0 {
		fmt.Fprintf(w, "\n## Sweep\n\n")
		writeSweep(w, r)
	}
	if len(charts) > 0 {
		fmt.Fprintf(w, "\n## Charts\n\n")
		for _, c := range charts {
			fmt.Fprintf(w, "![%s](%s)\n\n", strings.TrimSuffix(c, ".svg"), c)
		}
	}
	fmt.Fprintf(w, "\n## Environment\n\n%s\n", envText(r))
	fmt.Fprintf(w, "\n## Definitions\n\n%s", definitions)
}

const definitions = `- **latency**: receive time − the event's ts (the server's publish time), every delivery, HDR histogram in µs (3 significant digits).
- **latency from schedule**: receive time − the time the open-loop publisher was scheduled to publish. It includes the publish request and any server stall that also delays the ts, so it is free of coordinated omission.
- **publisher**: open loop: round(rate × duration) events per topic (scheduled), each sent at its due time in its own request, up to 256 in flight per topic, so a slow server delays the answers, not the schedule; request latency is measured from the scheduled time to the answer, max lag is the furthest a request started behind schedule (it waits only when 256 are in flight).
- **expected / delivered / lost**: every subscriber should receive every seq the publisher got back from the server, once; delivered counts distinct seqs, lost = expected − delivered; **duplicates** and **out of order** are counted over everything received.
- **connections**: attempted = clients started; established = connected at least once; failed = never connected, or (connect scenario) lost at any time; peak = most connected at once, sampled each second.
- **server bytes per connection** (connect): (server RSS at the end of the hold, every connection still open − RSS before the clients) / connections open then, RSS from /proc/<pid>/statm (spawned) or /api/stats; heap bytes and goroutines per connection likewise, from /api/stats.
- **reconnect**: time from the drop request to each client's next established connection; peak per 100 ms is the tallest 100 ms bucket of reconnections (a thundering herd shows as one tall bucket).
- **per delivery** (fanout, sweep): a counter's growth over the publishing phase — from just before the first event until every expected delivery was reported (or deliveries stalled for 5 s, or the drain passed), before the clients disconnect — divided by the deliveries. **Server CPU**: utime+stime of the server process (/proc/<pid>/stat of a spawned server, "cpu" of /api/stats for a target), including its handling of the publish requests (one per event). **Load generator CPU**: every load generator process, this one (which publishes) and every worker. **Server write syscalls**: syscw of /proc/<pid>/io (spawned servers only); below 1 means several deliveries left in one write. **Server allocations**: the Go runtime's /gc/heap/allocs:objects ("allocs_objects" of /api/stats). Each includes what else the process did meanwhile (heartbeats, a /api/stats request a second).
- **floor** (fanout, sweep): the same workload (subscribers, topics, rate, size, duration) moved by the plainest code, right after the transports: a writer process of its own (` + "`loadgen floor-server`" + `, measured from /proc like a spawned server) encodes each event once — the transports' wire JSON and a newline — and writes it to each of its N TCP connections with one write(2) each; readers in worker processes (` + "`loadgen floor-reader`" + `) parse the records in place and account them exactly as the transports' clients are (seq, loss, latency from ts and from schedule). Its "server" figures are the writer's, its "load generator" figures its readers' and the parent's. **× floor** is a transport's figure divided by the floor's of the same step: what the transport, its libraries and HTTP add to what the kernel and the Go runtime cost anyway.
- **sweep**: at a fixed subscriber count the rate rises step by step, each step a full fanout measurement with its own connections, on one server per transport, until a step's p99 latency from schedule passes the limit or it delivers fewer events than expected; the **highest sustained deliveries/s** is the deliveries/s of the last step that met it.
- **cross-node deliveries** (--target servers that are the nodes of one deployment, which their /api/stats "node" says: a shared Redis broker): subscribers are spread over the nodes round-robin and each event is published once, through the nodes in turn, so every subscriber expects every event of its topic; a delivery counts as cross-node when the subscriber's node is not the one the event was published through (the publisher records which node each seq came from).
- **goroutine stacks per connection** (connect): ("stacks_bytes" of /api/stats, the runtime's /memory/classes/heap/stacks:bytes, at the end of the hold − before) / connections open. **RSS at hold start → end**: the server's RSS when the ramp ended and at the end of the hold; the growth per connection shows whether idle connections cost more as time passes.
`

func describe(r *bench.Result) string {
	c := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "Run %s, %s. %s.\n\n", r.StartedAt.Format("2006-01-02 15:04 MST"),
		r.EndedAt.Sub(r.StartedAt).Round(1e9), r.ServerMode)
	switch r.Scenario {
	case bench.ScenarioFanout, bench.ScenarioReconnect:
		fmt.Fprintf(&b, "Workload: %s subscribers per transport on %d topic(s), %g events/s per topic of %d bytes, ",
			ints(c.Subscribers), c.Topics, c.Rate, c.Size)
		if r.Scenario == bench.ScenarioFanout {
			fmt.Fprintf(&b, "for %s.", c.Duration.D())
			if c.TLS() {
				b.WriteString(" Every transport over TLS to a demo server with --tls-self-signed (sse: SSE over HTTP/1.1, one TCP connection per stream; sse-h2: SSE over HTTP/2, many streams per connection; ws: WebSocket over wss), on the product clients.")
			}
			if c.Payload != "" && c.Payload != bench.PayloadPadding {
				fmt.Fprintf(&b, " Event data: %s.", c.Payload)
			}
		} else {
			fmt.Fprintf(&b, "%s steady, then every connection of the transport is %s, then %s steady again. WebSocket client: exponential backoff from %s, max %s, jitter %g. SSE client: waits the server's retry: (%s), jitter %s.",
				c.Settle.D(), map[string]string{"drop": "dropped by the server (POST /api/admin/drop)", "restart": "cut by a server restart"}[c.ReconnectMode],
				c.Settle.D(), c.WSBackoff.Initial.D(), c.WSBackoff.Max.D(), c.WSBackoff.Jitter, orDefault(c.SSERetry.D().String(), "0s", "server default"),
				orDefault(fmt.Sprint(c.SSEBackoff.Jitter), "-1", "none (browser-style)"))
		}
	case bench.ScenarioSweep:
		rates := c.SweepRates()
		shown := make([]string, 0, 5)
		for i, v := range rates {
			if i == 4 && len(rates) > 5 {
				shown = append(shown, "…")
				break
			}
			shown = append(shown, fmt.Sprint(v))
		}
		fmt.Fprintf(&b, "Workload: %s subscribers per transport on %d topic(s), events of %d bytes at a rate rising step by step (%s events/s per topic, up to %g), each step %s, until a step's p99 latency from schedule passes %s or it delivers fewer events than expected.",
			ints(c.Subscribers), c.Topics, c.Size, strings.Join(shown, ", "), c.SweepMax, c.Duration.D(), c.SweepP99.D())
	case bench.ScenarioConnect:
		fmt.Fprintf(&b, "Workload: ramp to %d idle connections per transport at %g/s, hold %s. Clients do not reconnect: any lost connection is a failure.",
			c.Connections, c.RampRate, c.Hold.D())
	case bench.ScenarioCompression:
		fmt.Fprintf(&b, "Workload: %s subscribers per leg on %d topic(s), %g events/s for %s, for each payload (a task progress event, a 2 KB JSON document) and each leg: WebSocket without compression, with permessage-deflate (context takeover, and none), SSE without and with gzip (flushed per batch); a fresh demo server per leg offering both.",
			ints(c.Subscribers[:1]), c.Topics, c.Rate, c.Duration.D())
	case bench.ScenarioHazards:
		fmt.Fprintf(&b, "Deployment hazards, each run through the real thing in front of spawned demo servers (nginx with a generated config, a gzip middleware, headless Chromium), broken and fixed; every figure is what a client saw.")
	case bench.ScenarioTasks:
		fmt.Fprintf(&b, "Workload: %d tasks (%d files × %d ms) created at once, each watched by %d clients per transport until its terminal event.",
			c.Tasks, c.TaskFiles, c.TaskStepMS, c.Watchers)
	}
	return b.String()
}

func orDefault(s, zero, def string) string {
	if s == zero {
		return def
	}
	return s
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
