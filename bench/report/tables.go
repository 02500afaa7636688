package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twinstream/twinstream/bench"
)

// row is one line of the comparison table; show says whether it applies.
type row struct {
	label string
	value func(*bench.TransportResult) string
	show  func(*bench.TransportResult) bool
}

func ms(v float64) string { return fmt.Sprintf("%.3f", v) }

func num[T ~int | ~int64 | ~uint64](v T) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func mb(v int64) string { return fmt.Sprintf("%.1f MB", float64(v)/1e6) }

func hasLat(t *bench.TransportResult) bool   { return t.LatencyMS.Count > 0 }
func hasSched(t *bench.TransportResult) bool { return t.LatencyFromScheduleMS.Count > 0 }
func hasExp(t *bench.TransportResult) bool   { return t.Expected > 0 }
func always(*bench.TransportResult) bool     { return true }

var rows = []row{
	{"latency p50 (ms)", func(t *bench.TransportResult) string { return ms(t.LatencyMS.P50) }, hasLat},
	{"latency p90 (ms)", func(t *bench.TransportResult) string { return ms(t.LatencyMS.P90) }, hasLat},
	{"latency p99 (ms)", func(t *bench.TransportResult) string { return ms(t.LatencyMS.P99) }, hasLat},
	{"latency p99.9 (ms)", func(t *bench.TransportResult) string { return ms(t.LatencyMS.P999) }, hasLat},
	{"latency max (ms)", func(t *bench.TransportResult) string { return ms(t.LatencyMS.Max) }, hasLat},
	{"latency from schedule p50 / p99 / max (ms)", func(t *bench.TransportResult) string {
		s := t.LatencyFromScheduleMS
		return ms(s.P50) + " / " + ms(s.P99) + " / " + ms(s.Max)
	}, hasSched},
	{"expected deliveries", func(t *bench.TransportResult) string { return num(t.Expected) }, hasExp},
	{"delivered", func(t *bench.TransportResult) string { return num(t.Delivered) }, hasExp},
	{"lost", func(t *bench.TransportResult) string { return num(t.Lost) }, hasExp},
	{"duplicates", func(t *bench.TransportResult) string { return num(t.Duplicates) }, hasExp},
	{"out of order", func(t *bench.TransportResult) string { return num(t.OutOfOrder) }, hasExp},
	{"resets (history lost)", func(t *bench.TransportResult) string { return num(t.Resets) }, hasExp},
	{"deliveries/s", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f", t.DeliveriesPerS) }, hasExp},
	{"connections attempted / established / failed", func(t *bench.TransportResult) string {
		c := t.Connections
		return num(c.Attempted) + " / " + num(c.Established) + " / " + num(c.Failed)
	}, always},
	{"connections peak", func(t *bench.TransportResult) string { return num(t.Connections.Peak) }, always},
	{"reconnections (server or network ended a connection)", func(t *bench.TransportResult) string { return num(t.Connections.Reconnects) }, always},
	{"held (s)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.1f", t.Connections.HeldS) },
		func(t *bench.TransportResult) bool { return t.Connections.HeldS > 0 }},
	{"connect p50 / p99 / max (ms)", func(t *bench.TransportResult) string {
		c := t.ConnectMS
		return ms(c.P50) + " / " + ms(c.P99) + " / " + ms(c.Max)
	}, func(t *bench.TransportResult) bool { return t.ConnectMS.Count > 0 }},
	{"server RSS before → peak", func(t *bench.TransportResult) string {
		return mb(t.ServerRSSBeforeBytes) + " → " + mb(t.ServerRSSBytes)
	}, func(t *bench.TransportResult) bool { return t.ServerRSSBytes > 0 }},
	{"server bytes per connection", func(t *bench.TransportResult) string { return num(int64(t.ServerBytesPerConn)) },
		func(t *bench.TransportResult) bool { return t.ServerBytesPerConn != 0 }},
	{"server Go heap per connection (bytes)", func(t *bench.TransportResult) string { return num(int64(t.ServerHeapBytesPerConn)) },
		func(t *bench.TransportResult) bool { return t.ServerHeapBytesPerConn != 0 }},
	{"server goroutines per connection", func(t *bench.TransportResult) string { return fmt.Sprintf("%.2f", t.ServerGoroutinesPerConn) },
		func(t *bench.TransportResult) bool { return t.ServerGoroutinesPerConn != 0 }},
	{"server CPU (mean, 100% = 1 core)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f%%", t.ServerCPUPercent) },
		func(t *bench.TransportResult) bool { return t.ServerCPUPercent > 0 }},
	{"load generator CPU (mean, all processes)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f%%", t.LoadgenCPUPercent) },
		func(t *bench.TransportResult) bool { return t.LoadgenCPUPercent > 0 }},
	{"whole machine CPU (mean, all processes)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f%%", t.MachineCPUPercent) },
		func(t *bench.TransportResult) bool { return t.MachineCPUPercent > 0 }},
	{"reconnect: back / dropped", func(t *bench.TransportResult) string {
		return num(t.Reconnect.Back) + " / " + num(t.Reconnect.Dropped)
	}, func(t *bench.TransportResult) bool { return t.Reconnect != nil }},
	{"reconnect: 50% / 90% / 99% / all back (ms)", func(t *bench.TransportResult) string {
		r := t.Reconnect
		return ms(r.P50MS) + " / " + ms(r.P90MS) + " / " + ms(r.P99MS) + " / " + ms(r.MaxMS)
	}, func(t *bench.TransportResult) bool { return t.Reconnect != nil }},
	{"reconnect: peak per 100 ms", func(t *bench.TransportResult) string { return num(t.Reconnect.PeakPer100ms) },
		func(t *bench.TransportResult) bool { return t.Reconnect != nil }},
	{"reconnect: lost / duplicates", func(t *bench.TransportResult) string {
		return num(t.Reconnect.Lost) + " / " + num(t.Reconnect.Duplicates)
	}, func(t *bench.TransportResult) bool { return t.Reconnect != nil }},
	{"tasks: POST → terminal p50 / p99 / max (ms)", func(t *bench.TransportResult) string {
		e := t.Tasks.EndToEndMS
		return ms(e.P50) + " / " + ms(e.P99) + " / " + ms(e.Max)
	}, func(t *bench.TransportResult) bool { return t.Tasks != nil }},
	{"tasks: completed / failed / unfinished watchers", func(t *bench.TransportResult) string {
		return num(t.Tasks.Completed) + " / " + num(t.Tasks.Failed) + " / " + num(t.Tasks.Unfinished)
	}, func(t *bench.TransportResult) bool { return t.Tasks != nil }},
	{"tasks: same final state everywhere", func(t *bench.TransportResult) string {
		return fmt.Sprintf("%v (%d mismatches)", t.Tasks.Consistent, t.Tasks.Mismatches)
	}, func(t *bench.TransportResult) bool { return t.Tasks != nil }},
	{"publisher: published / scheduled / errors", func(t *bench.TransportResult) string {
		sched := "–"
		if t.Publisher.Scheduled > 0 {
			sched = num(t.Publisher.Scheduled)
		}
		return num(t.Publisher.Published) + " / " + sched + " / " + num(t.Publisher.Errors)
	}, func(t *bench.TransportResult) bool { return t.Publisher != nil }},
	{"publisher: request p99 (ms, from schedule) / max lag (ms) / peak in flight", func(t *bench.TransportResult) string {
		return ms(t.Publisher.RequestMS.P99) + " / " + ms(t.Publisher.MaxLagMS) + " / " + num(t.Publisher.PeakInFlight)
	}, func(t *bench.TransportResult) bool { return t.Publisher != nil }},
}

func writeTable(w io.Writer, r *bench.Result, ts []string) {
	fmt.Fprintf(w, "| |%s|\n|---|%s\n", strings.Join(ts, "|"), strings.Repeat("---:|", len(ts)))
	for _, rw := range rows {
		show := false
		for _, t := range ts {
			show = show || rw.show(r.Transports[t])
		}
		if !show {
			continue
		}
		cells := make([]string, len(ts))
		for i, t := range ts {
			if tr := r.Transports[t]; rw.show(tr) {
				cells[i] = rw.value(tr)
			} else {
				cells[i] = "–"
			}
		}
		fmt.Fprintf(w, "| %s | %s |\n", rw.label, strings.Join(cells, " | "))
	}
}

func writeSweep(w io.Writer, r *bench.Result, ts []string) {
	fmt.Fprintf(w, "| subscribers | transport | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | lost | duplicates | deliveries/s | server CPU | loadgen CPU |\n")
	fmt.Fprintf(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Sweep {
		for _, t := range ts {
			tr := s.Transports[t]
			if tr == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f%% | %.0f%% |\n", num(s.Subscribers), t,
				ms(tr.LatencyMS.P50), ms(tr.LatencyMS.P99), ms(tr.LatencyMS.P999), ms(tr.LatencyMS.Max),
				num(tr.Lost), num(tr.Duplicates), tr.DeliveriesPerS, tr.ServerCPUPercent, tr.LoadgenCPUPercent)
		}
	}
}

func failures(r *bench.Result, ts []string) string {
	var b strings.Builder
	for _, t := range ts {
		c := r.Transports[t].Connections
		for _, part := range []struct {
			label string
			m     map[string]int
		}{{"Failures", c.Failures}, {"Disconnects", c.Disconnects}} {
			if len(part.m) == 0 {
				continue
			}
			fmt.Fprintf(&b, "%s (%s):", part.label, t)
			for _, k := range sortedKeys(part.m) {
				fmt.Fprintf(&b, " %s × %s;", k, num(part.m[k]))
			}
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

func envText(r *bench.Result) string {
	e := r.Env
	shared := "unknown (remote target)"
	if e.SharedCores != nil {
		shared = fmt.Sprintf("%v (loadgen CPUs %s, server CPUs %s)", *e.SharedCores, e.LoadgenAffinity, e.ServerAffinity)
	}
	dirty := ""
	if e.GitDirty {
		dirty = " (with uncommitted changes)"
	}
	return fmt.Sprintf("- commit %s%s, %s, GOMAXPROCS %d\n- CPU: %d × %s; kernel %s; load average at start %s\n- server and load generator share cores: %s\n- open files limit %d per process; ephemeral ports %s\n- command: `%s`\n",
		short(e.GitCommit), dirty, e.GoVersion, e.GOMAXPROCS, e.Cores, e.CPUModel, e.Kernel, e.LoadAvg, shared,
		e.OpenFilesMax, e.PortRange, strings.Join(e.Command, " "))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// Summary prints a compact comparison for the terminal.
func Summary(w io.Writer, r *bench.Result) {
	ts := transportsOf(r)
	fmt.Fprintf(w, "\n%s", r.Scenario)
	if r.Interrupted {
		fmt.Fprint(w, " (interrupted)")
	}
	fmt.Fprintln(w)
	width := 0
	for _, rw := range rows {
		width = max(width, len([]rune(rw.label)))
	}
	fmt.Fprintf(w, "  %-*s", width, "")
	for _, t := range ts {
		fmt.Fprintf(w, "  %28s", t)
	}
	fmt.Fprintln(w)
	for _, rw := range rows {
		show := false
		for _, t := range ts {
			show = show || rw.show(r.Transports[t])
		}
		if !show {
			continue
		}
		fmt.Fprintf(w, "  %-*s", width, rw.label)
		for _, t := range ts {
			v := "–"
			if tr := r.Transports[t]; rw.show(tr) {
				v = rw.value(tr)
			}
			fmt.Fprintf(w, "  %28s", v)
		}
		fmt.Fprintln(w)
	}
	if f := failures(r, ts); f != "" {
		fmt.Fprint(w, "  ", strings.ReplaceAll(strings.TrimSpace(f), "\n\n", "\n  "), "\n")
	}
}

// WriteIndex writes dir/README.md: every scenario's table, with links to
// the full reports, the environment, and the command that regenerated it.
// A hand-written dir/NOTES.md, if present, is included after the figures.
func WriteIndex(dir string, paths []string, command string, took time.Duration) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "# twinstream: WebSocket vs SSE, measured\n\n")
	fmt.Fprintf(&b, "Generated by `%s` (%s in total). Each scenario runs the same workload on both transports; see each report for charts and definitions.\n\n", command, took.Round(time.Second))
	var last *bench.Result
	for _, p := range paths {
		r, err := bench.ReadResult(p)
		if err != nil {
			return "", err
		}
		last = r
		base := strings.TrimSuffix(filepath.Base(p), ".json")
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", r.Scenario, describe(r))
		writeTable(&b, r, transportsOf(r))
		if f := failures(r, transportsOf(r)); f != "" {
			fmt.Fprintf(&b, "\n%s", f)
		}
		fmt.Fprintf(&b, "\nFull report: [%s.md](%s.md), data: [%s.json](%s.json)\n\n", base, base, base, base)
	}
	if notes, err := os.ReadFile(filepath.Join(dir, "NOTES.md")); err == nil {
		fmt.Fprintf(&b, "%s\n", strings.TrimSpace(string(notes)))
	}
	if last != nil {
		fmt.Fprintf(&b, "\n## Environment\n\n%s", envText(last))
	}
	path := filepath.Join(dir, "README.md")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}
