package report

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

func us(v float64) string  { return fmt.Sprintf("%.2f", v) }
func per(v float64) string { return fmt.Sprintf("%.3f", v) }
func times(v float64) string {
	if v >= 10 {
		return fmt.Sprintf("%.0f×", v)
	}
	return fmt.Sprintf("%.2g×", v)
}

func hasLat(t *bench.TransportResult) bool   { return t.LatencyMS.Count > 0 }
func hasSched(t *bench.TransportResult) bool { return t.LatencyFromScheduleMS.Count > 0 }
func hasExp(t *bench.TransportResult) bool   { return t.Expected > 0 }
func always(*bench.TransportResult) bool     { return true }

// shows reports whether a row has a value for t: none has for a
// transport the target could not run (its own row says why).
func (rw row) shows(t *bench.TransportResult) bool {
	if t.NotSupported != "" {
		return rw.label == notSupportedLabel
	}
	return rw.show(t)
}

const notSupportedLabel = "not supported by target"

var rows = append([]row{
	{notSupportedLabel, func(t *bench.TransportResult) string {
		return strings.TrimPrefix(t.NotSupported, "not supported by target: ")
	},
		func(t *bench.TransportResult) bool { return false }},
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
	{"cross-node deliveries (published through another node)", func(t *bench.TransportResult) string {
		return num(t.CrossNodeDeliveries) + fmt.Sprintf(" (%.0f%%)", 100*float64(t.CrossNodeDeliveries)/float64(max(t.Delivered, 1)))
	}, func(t *bench.TransportResult) bool { return t.CrossNodeDeliveries > 0 }},
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
	{"server goroutine stacks per connection (bytes)", func(t *bench.TransportResult) string { return num(int64(t.ServerStacksBytesPerConn)) },
		func(t *bench.TransportResult) bool { return t.ServerStacksBytesPerConn != 0 }},
	{"server goroutines per connection", func(t *bench.TransportResult) string { return fmt.Sprintf("%.2f", t.ServerGoroutinesPerConn) },
		func(t *bench.TransportResult) bool { return t.ServerGoroutinesPerConn != 0 }},
	{"server RSS at hold start → end", func(t *bench.TransportResult) string {
		return mb(t.ServerRSSHold.StartBytes) + " → " + mb(t.ServerRSSHold.EndBytes)
	}, func(t *bench.TransportResult) bool { return t.ServerRSSHold != nil }},
	{"server RSS growth during the hold per connection (bytes)", func(t *bench.TransportResult) string {
		return num(int64(t.ServerRSSHold.GrowthBytesPerConn))
	}, func(t *bench.TransportResult) bool { return t.ServerRSSHold != nil }},
	{"server CPU (mean, 100% = 1 core)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f%%", t.ServerCPUPercent) },
		func(t *bench.TransportResult) bool { return t.ServerCPUPercent > 0 }},
	{"load generator CPU (mean, all processes)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f%%", t.LoadgenCPUPercent) },
		func(t *bench.TransportResult) bool { return t.LoadgenCPUPercent > 0 }},
	{"whole machine CPU (mean, all processes)", func(t *bench.TransportResult) string { return fmt.Sprintf("%.0f%%", t.MachineCPUPercent) },
		func(t *bench.TransportResult) bool { return t.MachineCPUPercent > 0 }},
	{"server CPU per delivery (µs)", func(t *bench.TransportResult) string { return us(t.ServerCPUUsPerDelivery) },
		func(t *bench.TransportResult) bool { return t.ServerCPUUsPerDelivery > 0 }},
	{"load generator CPU per delivery (µs, all processes)", func(t *bench.TransportResult) string { return us(t.LoadgenCPUUsPerDelivery) },
		func(t *bench.TransportResult) bool { return t.LoadgenCPUUsPerDelivery > 0 }},
	{"server write syscalls per delivery", func(t *bench.TransportResult) string { return per(t.ServerWriteSyscallsPerDelivery) },
		func(t *bench.TransportResult) bool { return t.ServerWriteSyscallsPerDelivery > 0 }},
	{"server allocations per delivery", func(t *bench.TransportResult) string { return per(t.ServerAllocsPerDelivery) },
		func(t *bench.TransportResult) bool { return t.ServerAllocsPerDelivery > 0 }},
	{"server CPU × floor", func(t *bench.TransportResult) string { return times(t.VsFloor.ServerCPU) },
		func(t *bench.TransportResult) bool { return t.VsFloor != nil && t.VsFloor.ServerCPU > 0 }},
	{"load generator CPU × floor", func(t *bench.TransportResult) string { return times(t.VsFloor.LoadgenCPU) },
		func(t *bench.TransportResult) bool { return t.VsFloor != nil && t.VsFloor.LoadgenCPU > 0 }},
	{"server write syscalls × floor", func(t *bench.TransportResult) string { return times(t.VsFloor.ServerWriteSyscalls) },
		func(t *bench.TransportResult) bool { return t.VsFloor != nil && t.VsFloor.ServerWriteSyscalls > 0 }},
	{"latency p50 / p99 × floor", func(t *bench.TransportResult) string {
		return times(t.VsFloor.LatencyP50) + " / " + times(t.VsFloor.LatencyP99)
	}, func(t *bench.TransportResult) bool { return t.VsFloor != nil && t.VsFloor.LatencyP99 > 0 }},
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
		if t.Publisher.RequestMS.Count == 0 { // the floor: its writer schedules itself, no requests
			return "– / " + ms(t.Publisher.MaxLagMS) + " / –"
		}
		return ms(t.Publisher.RequestMS.P99) + " / " + ms(t.Publisher.MaxLagMS) + " / " + num(t.Publisher.PeakInFlight)
	}, func(t *bench.TransportResult) bool { return t.Publisher != nil }},
}, wireRows...) // bytes on the wire, TCP connections, memory per subscriber (deploy.go)

// column is one column of the comparison: a transport, or the floor.
type column struct {
	name string
	tr   *bench.TransportResult
}

// floorName heads the floor's column.
const floorName = "floor (plain TCP)"

// columnsOf lists a result's transports in the configured order, then
// the floor when it ran.
func columnsOf(r *bench.Result) []column {
	var out []column
	for _, t := range transportsOf(r) {
		out = append(out, column{t, r.Transports[t]})
	}
	if r.Floor != nil {
		out = append(out, column{floorName, r.Floor})
	}
	return out
}

// stepColumns is columnsOf for one step of a sweep.
func stepColumns(r *bench.Result, s bench.SweepStep) []column {
	var out []column
	for _, t := range transportsOf(r) {
		if tr := s.Transports[t]; tr != nil {
			out = append(out, column{t, tr})
		}
	}
	for _, t := range sortedKeys(s.Transports) { // transports the result's last step lacks
		if _, ok := r.Transports[t]; !ok {
			out = append(out, column{t, s.Transports[t]})
		}
	}
	if s.Floor != nil {
		out = append(out, column{bench.Floor, s.Floor})
	}
	return out
}

func writeTable(w io.Writer, cols []column) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	fmt.Fprintf(w, "| |%s|\n|---|%s\n", strings.Join(names, "|"), strings.Repeat("---:|", len(cols)))
	for _, rw := range rows {
		show := false
		for _, c := range cols {
			show = show || rw.shows(c.tr)
		}
		if !show {
			continue
		}
		cells := make([]string, len(cols))
		for i, c := range cols {
			if rw.shows(c.tr) {
				cells[i] = rw.value(c.tr)
			} else {
				cells[i] = "–"
			}
		}
		fmt.Fprintf(w, "| %s | %s |\n", rw.label, strings.Join(cells, " | "))
	}
	if n := costNotes(cols); n != "" {
		fmt.Fprintf(w, "\n%s", n)
	}
}

// costNotes says which per-delivery figures are missing and why.
func costNotes(cols []column) string {
	var noSyscw, noAllocs []string
	for _, c := range cols {
		if c.tr.LoadgenCPUUsPerDelivery <= 0 || c.tr.Delivered == 0 {
			continue // no cost measured at all (not a fanout, or nothing delivered)
		}
		if c.tr.ServerWriteSyscallsPerDelivery <= 0 {
			noSyscw = append(noSyscw, c.name)
		}
		if c.tr.ServerAllocsPerDelivery <= 0 && c.name != floorName && c.name != bench.Floor {
			noAllocs = append(noAllocs, c.name)
		}
	}
	var b strings.Builder
	if len(noSyscw) > 0 {
		fmt.Fprintf(&b, "Server write syscalls per delivery are not measured for %s: a --target server has no pid here, so its /proc/<pid>/io cannot be read.\n", strings.Join(noSyscw, ", "))
	}
	if len(noAllocs) > 0 {
		fmt.Fprintf(&b, "Server allocations per delivery are not measured for %s: its /api/stats has no \"allocs_objects\".\n", strings.Join(noAllocs, ", "))
	}
	return b.String()
}

func writeSweep(w io.Writer, r *bench.Result) {
	fmt.Fprintf(w, "| subscribers | events/s | transport | p50 (ms) | p99 (ms) | p99 from schedule (ms) | lost | deliveries/s | server CPU µs/delivery | loadgen CPU µs/delivery | server write syscalls/delivery | server allocs/delivery | server CPU × floor | server CPU | loadgen CPU |\n")
	fmt.Fprintf(w, "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	opt := func(v float64, f func(float64) string) string {
		if v <= 0 {
			return "–"
		}
		return f(v)
	}
	for _, s := range r.Sweep {
		rate := s.Rate
		if rate == 0 {
			rate = r.Config.Rate
		}
		for _, c := range stepColumns(r, s) {
			tr := c.tr
			vs := "–"
			if tr.VsFloor != nil && tr.VsFloor.ServerCPU > 0 {
				vs = times(tr.VsFloor.ServerCPU)
			}
			fmt.Fprintf(w, "| %s | %g | %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s | %.0f%% | %.0f%% |\n", num(s.Subscribers), rate, c.name,
				ms(tr.LatencyMS.P50), ms(tr.LatencyMS.P99), ms(tr.LatencyFromScheduleMS.P99), num(tr.Lost), tr.DeliveriesPerS,
				opt(tr.ServerCPUUsPerDelivery, us), opt(tr.LoadgenCPUUsPerDelivery, us),
				opt(tr.ServerWriteSyscallsPerDelivery, per), opt(tr.ServerAllocsPerDelivery, per), vs,
				tr.ServerCPUPercent, tr.LoadgenCPUPercent)
		}
	}
}

// writeSaturation is the sweep scenario's verdict, one row per transport
// and the floor.
func writeSaturation(w io.Writer, r *bench.Result) {
	names := transportsOf(r)
	for _, t := range sortedKeys(r.Saturation) {
		if !slices.Contains(names, t) && t != bench.Floor {
			names = append(names, t)
		}
	}
	if r.Saturation[bench.Floor] != nil {
		names = append(names, bench.Floor)
	}
	floor := r.Saturation[bench.Floor]
	fmt.Fprintf(w, "| | highest sustained deliveries/s | at events/s | × floor | first rate that missed | why it stopped | steps |\n|---|---:|---:|---:|---:|---|---:|\n")
	for _, t := range names {
		s := r.Saturation[t]
		if s == nil {
			continue
		}
		vs, failed := "–", "–"
		if floor != nil && t != bench.Floor && s.MaxSustainedDeliveriesPerS > 0 && floor.MaxSustainedDeliveriesPerS > 0 {
			vs = times(s.MaxSustainedDeliveriesPerS / floor.MaxSustainedDeliveriesPerS)
		}
		if s.FailedRate > 0 {
			failed = fmt.Sprintf("%g", s.FailedRate)
		}
		name := t
		if t == bench.Floor {
			name = floorName
		}
		fmt.Fprintf(w, "| %s | %.0f | %g | %s | %s | %s | %d |\n", name, s.MaxSustainedDeliveriesPerS, s.SustainedRate, vs, failed, s.StoppedBecause, s.Steps)
	}
}

func failures(r *bench.Result, cols []column) string {
	var b strings.Builder
	for _, col := range cols {
		t, c := col.name, col.tr.Connections
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
	serverGC := "unknown (a --target)"
	if e.ServerGC != nil {
		serverGC = e.ServerGC.String()
	}
	return fmt.Sprintf("- commit %s%s, %s, GOMAXPROCS %d\n- CPU: %d × %s; kernel %s; load average at start %s\n- server and load generator share cores: %s\n- GC: load generator %s; server %s\n- open files limit %d per process; ephemeral ports %s\n- command: `%s`\n",
		short(e.GitCommit), dirty, e.GoVersion, e.GOMAXPROCS, e.Cores, e.CPUModel, e.Kernel, e.LoadAvg, shared,
		e.LoadgenGC.String(), serverGC, e.OpenFilesMax, e.PortRange, strings.Join(e.Command, " "))
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
	if r.Hazards != nil {
		summaryHazards(w, r) // (deploy.go)
		return
	}
	cols := columnsOf(r)
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
	for _, c := range cols {
		fmt.Fprintf(w, "  %28s", c.name)
	}
	fmt.Fprintln(w)
	for _, rw := range rows {
		show := false
		for _, c := range cols {
			show = show || rw.shows(c.tr)
		}
		if !show {
			continue
		}
		fmt.Fprintf(w, "  %-*s", width, rw.label)
		for _, c := range cols {
			v := "–"
			if rw.shows(c.tr) {
				v = rw.value(c.tr)
			}
			fmt.Fprintf(w, "  %28s", v)
		}
		fmt.Fprintln(w)
	}
	for _, name := range sortedKeys(r.Saturation) {
		s := r.Saturation[name]
		fmt.Fprintf(w, "  saturation %s: %.0f deliveries/s sustained at %g events/s (%s)\n", name, s.MaxSustainedDeliveriesPerS, s.SustainedRate, s.StoppedBecause)
	}
	if f := failures(r, cols); f != "" {
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
		if len(r.Saturation) > 0 {
			writeSaturation(&b, r)
			b.WriteString("\n")
		}
		if r.Hazards != nil {
			writeHazards(&b, r) // (deploy.go)
		} else {
			writeTable(&b, columnsOf(r))
		}
		if f := failures(r, columnsOf(r)); f != "" {
			fmt.Fprintf(&b, "\n%s", f)
		}
		fmt.Fprintf(&b, "\nFull report: [%s.md](%s.md), data: [%s.json](%s.json)\n\n", base, base, base, base)
	}
	if f, err := DeploymentFacts(dir); err == nil { // (deploy.go)
		writeFacts(&b, f)
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
