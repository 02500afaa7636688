package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/twinstream/twinstream/bench"
)

// writeHazards renders a hazards result: per hazard, each configuration
// tried, what a client saw, and the one-line fix.
func writeHazards(w io.Writer, r *bench.Result) {
	if r.Hazards == nil {
		return
	}
	for _, h := range r.Hazards.Hazards {
		fmt.Fprintf(w, "### %s\n\n", h.Title)
		if h.Skipped != "" {
			fmt.Fprintf(w, "Not run: %s.\n\n", h.Skipped)
			continue
		}
		fmt.Fprintf(w, "| configuration | hazard? | what a client saw |\n|---|---|---|\n")
		for _, c := range h.Cases {
			mark := "fine"
			switch {
			case c.Broken && c.Symptom:
				mark = "**broken**"
			case c.Broken:
				mark = "broken config, symptom not seen"
			case c.Symptom:
				mark = "**symptom without the hazard**"
			}
			fmt.Fprintf(w, "| %s | %s | %s |\n", mdCell(c.Name), mark, mdCell(c.Verdict))
		}
		fmt.Fprintf(w, "\n**Fix**: %s.\n\n", h.Fix)
	}
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Fact is one line of the deployment facts: a question teams ask, the
// measured answer (broken and fixed where it is a hazard), the fix, and
// the result file it comes from.
type Fact struct {
	Topic  string `json:"topic"`
	Broken string `json:"broken,omitempty"` // what a user sees with the hazard
	Fixed  string `json:"fixed,omitempty"`  // with the fix
	Fix    string `json:"fix,omitempty"`
	Source string `json:"source"` // results/<file>.json
}

// Facts are the deployment facts of a results directory: the latest
// hazards result (and the latest HTTP/2 and compression measurements
// when present), as the demo page shows them.
type Facts struct {
	Facts []Fact `json:"facts"`
}

// FactsFile is the file, in a results directory, that holds its Facts;
// the demo page embeds a copy (cmd/demo/internal/web/static).
const FactsFile = "deployment-facts.json"

// DeploymentFacts gathers the facts of dir from its latest results.
func DeploymentFacts(dir string) (Facts, error) {
	var f Facts
	latest, err := latestResults(dir)
	if err != nil {
		return f, err
	}
	if p, ok := latest[bench.ScenarioHazards]; ok {
		r, err := bench.ReadResult(p)
		if err != nil {
			return f, err
		}
		src := sourceName(dir, p)
		for _, h := range r.Hazards.Hazards {
			if h.Skipped != "" {
				continue
			}
			fact := Fact{Topic: h.Title, Fix: h.Fix, Source: src}
			var broken, fixed []string
			for _, c := range h.Cases {
				line := c.Name + ": " + c.Verdict
				if c.Broken {
					broken = append(broken, line)
				} else {
					fixed = append(fixed, line)
				}
			}
			fact.Broken, fact.Fixed = strings.Join(broken, "; "), strings.Join(fixed, "; ")
			f.Facts = append(f.Facts, fact)
		}
	}
	for _, kind := range []string{factHTTP2, factCompression} {
		p, ok := latest[kind]
		if !ok {
			continue
		}
		r, err := bench.ReadResult(p)
		if err != nil {
			return f, err
		}
		f.Facts = append(f.Facts, measuredFacts(kind, r, sourceName(dir, p))...)
	}
	return f, nil
}

// Kinds of measurement results besides scenarios (latestResults).
const (
	factHTTP2       = "http2"       // a fanout with an SSE-over-HTTP/2 column
	factCompression = "compression" // the compression scenario
)

// latestResults maps each kind of deployment result to the newest file of
// dir holding one (file names sort by date).
func latestResults(dir string) (map[string]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	out := map[string]string{}
	for _, p := range paths {
		if filepath.Base(p) == FactsFile {
			continue
		}
		r, err := bench.ReadResult(p)
		if err != nil {
			continue // not a result
		}
		switch {
		case r.Scenario == bench.ScenarioHazards:
			out[bench.ScenarioHazards] = p
		case r.Scenario == factCompression:
			out[factCompression] = p
		case r.Transports[bench.SSEH2] != nil:
			out[factHTTP2] = p
		}
	}
	return out, nil
}

// sourceName is p as the repository names it (results/<file>), when dir
// is a results directory.
func sourceName(dir, p string) string {
	return filepath.ToSlash(filepath.Join(filepath.Base(filepath.Clean(dir)), filepath.Base(p)))
}

// WriteDeploymentFacts writes dir's FactsFile and returns its path (none
// when dir holds no deployment results).
func WriteDeploymentFacts(dir string) (string, error) {
	f, err := DeploymentFacts(dir)
	if err != nil || len(f.Facts) == 0 {
		return "", err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, FactsFile)
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeFacts renders the "Deployment facts" section of the comparison
// report.
func writeFacts(w io.Writer, f Facts) {
	if len(f.Facts) == 0 {
		return
	}
	fmt.Fprintf(w, "## Deployment facts\n\n")
	fmt.Fprintf(w, "What decides WebSocket vs SSE in production besides latency, each measured through the real thing (nginx, a gzip middleware, headless Chromium, HTTP/2, compression) by `loadgen hazards` and the HTTP/2 and compression runs.\n\n")
	fmt.Fprintf(w, "| question | with the hazard | measured otherwise | fix | source |\n|---|---|---|---|---|\n")
	for _, x := range f.Facts {
		fmt.Fprintf(w, "| %s | %s | %s | %s | [%s](%s) |\n", mdCell(x.Topic), mdCell(orDash(x.Broken)), mdCell(orDash(x.Fixed)),
			mdCell(orDash(x.Fix)), filepath.Base(x.Source), filepath.Base(x.Source))
	}
	fmt.Fprintln(w)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// summaryHazards is the terminal summary of a hazards result.
func summaryHazards(w io.Writer, r *bench.Result) {
	fmt.Fprintf(w, "\nhazards\n")
	for _, h := range r.Hazards.Hazards {
		fmt.Fprintf(w, "  %s\n", h.Title)
		if h.Skipped != "" {
			fmt.Fprintf(w, "    not run: %s\n", h.Skipped)
			continue
		}
		for _, c := range h.Cases {
			mark := "  "
			if c.Symptom {
				mark = "✗ "
			}
			fmt.Fprintf(w, "    %s%s: %s\n", mark, c.Name, c.Verdict)
		}
		fmt.Fprintf(w, "    fix: %s\n", h.Fix)
	}
}

// measuredFacts are the facts of an HTTP/2 or compression measurement.
func measuredFacts(kind string, r *bench.Result, src string) []Fact {
	switch kind {
	case factHTTP2:
		var parts []string
		for _, name := range []string{bench.SSE, bench.SSEH2, bench.WS} {
			tr := r.Transports[name]
			if tr == nil {
				continue
			}
			parts = append(parts, legFigures(name, tr))
		}
		n := 0
		if len(r.Config.Subscribers) > 0 {
			n = r.Config.Subscribers[len(r.Config.Subscribers)-1]
		}
		return []Fact{{Topic: fmt.Sprintf("SSE over HTTP/2 vs HTTP/1.1 vs WebSocket (%s subscribers, TLS)", num(n)),
			Fixed: strings.Join(parts, "; "), Fix: "serve HTTPS with HTTP/2 (demo --tls-cert/--tls-key): SSE streams share a few TCP connections", Source: src}}
	case factCompression:
		var out []Fact
		for _, s := range r.Sweep {
			var parts []string
			for _, name := range bench.CompressionLegs {
				tr := s.Transports[name]
				if tr == nil || tr.Wire == nil {
					continue
				}
				parts = append(parts, fmt.Sprintf("%s %.0f B/event on the wire, %.1f µs server CPU/delivery, %s B server memory/subscriber",
					name, tr.Wire.BytesPerEvent, tr.ServerCPUUsPerDelivery, num(int64(tr.ServerBytesPerSubscriber))))
			}
			payload := 0.0
			if tr := s.Transports[bench.WS]; tr != nil && tr.Wire != nil {
				payload = tr.Wire.PayloadBytesPerEvent
			}
			out = append(out, Fact{Topic: fmt.Sprintf("compression, %s payload (%.0f B event JSON)", s.Payload, payload),
				Fixed: strings.Join(parts, "; "), Fix: "permessage-deflate (--ws-compression) or --sse-gzip where bytes cost more than CPU and memory", Source: src})
		}
		return out
	}
	return nil
}

// legFigures sums a leg up in a line.
func legFigures(name string, tr *bench.TransportResult) string {
	s := fmt.Sprintf("%s p99 %.1f ms, %.1f µs server CPU/delivery", name, tr.LatencyMS.P99, tr.ServerCPUUsPerDelivery)
	if tr.Wire != nil {
		s += fmt.Sprintf(", %s TCP connections, %.0f B/event on the wire", num(tr.Wire.TCPConnectionsPeak), tr.Wire.BytesPerEvent)
	}
	if tr.ServerBytesPerSubscriber > 0 {
		s += fmt.Sprintf(", %s B server memory/subscriber", num(int64(tr.ServerBytesPerSubscriber)))
	}
	return s
}

// writeCompression renders the compression scenario: per payload, each
// leg's bytes on the wire, CPU and memory.
func writeCompression(w io.Writer, r *bench.Result) {
	fmt.Fprintf(w, "## Compression\n\n| payload | leg | event JSON (B) | on the wire per event (B) | compressed payload per event (B) | × payload | server CPU µs/delivery | loadgen CPU µs/delivery | server memory per subscriber (B) | p99 (ms) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range r.Sweep {
		for _, name := range bench.CompressionLegs {
			tr := s.Transports[name]
			if tr == nil || tr.Wire == nil {
				continue
			}
			ratio := "–"
			if p := tr.Wire.PayloadBytesPerEvent; p > 0 {
				ratio = fmt.Sprintf("%.2f", tr.Wire.BytesPerEvent/p)
			}
			fmt.Fprintf(w, "| %s | %s | %.0f | %.1f | %.1f | %s | %s | %s | %s | %s |\n", s.Payload, name, tr.Wire.PayloadBytesPerEvent,
				tr.Wire.BytesPerEvent, tr.Wire.CompressedPerEvent, ratio, us(tr.ServerCPUUsPerDelivery), us(tr.LoadgenCPUUsPerDelivery),
				num(int64(tr.ServerBytesPerSubscriber)), ms(tr.LatencyMS.P99))
		}
	}
	fmt.Fprintln(w)
}

func hasWire(t *bench.TransportResult) bool { return t.Wire != nil && t.Delivered > 0 }

func bytesPer(v float64) string { return fmt.Sprintf("%.1f", v) }

// wireRows are the comparison table's rows of bytes on the wire per
// delivered event (bench.WireResult), TCP connections and server memory
// per subscriber.
var wireRows = []row{
	{"wire bytes per event received (socket; setup and heartbeats apart)", func(t *bench.TransportResult) string { return bytesPer(t.Wire.BytesPerEvent) }, hasWire},
	{"  of which payload (event JSON, uncompressed)", func(t *bench.TransportResult) string {
		if t.Wire.PayloadBytesPerEvent == 0 {
			return "compressed"
		}
		return bytesPer(t.Wire.PayloadBytesPerEvent)
	}, hasWire},
	{"  framing (WS frame headers; SSE data: and line ends)", func(t *bench.TransportResult) string { return bytesPer(t.Wire.FramingPerEvent) }, hasWire},
	{"  chunked encoding", func(t *bench.TransportResult) string { return bytesPer(t.Wire.ChunkedPerEvent) }, hasWire},
	{"  SSE id: lines", func(t *bench.TransportResult) string { return bytesPer(t.Wire.IDLinesPerEvent) }, hasWire},
	{"  HTTP/2 frames", func(t *bench.TransportResult) string { return bytesPer(t.Wire.H2FramingPerEvent) }, hasWire},
	{"  TLS records", func(t *bench.TransportResult) string { return bytesPer(t.Wire.TLSPerEvent) }, hasWire},
	{"  compressed payload (with its SSE fields)", func(t *bench.TransportResult) string { return bytesPer(t.Wire.CompressedPerEvent) }, hasWire},
	{"heartbeat bytes per connection-minute", func(t *bench.TransportResult) string { return bytesPer(t.Wire.HeartbeatBytesPerConnMinute) }, hasWire},
	{"setup bytes per TCP connection (TLS handshake, heads, first frames)", func(t *bench.TransportResult) string { return bytesPer(t.Wire.SetupBytesPerConn) }, hasWire},
	{"bytes sent by the clients per event (requests, pongs, masks, flow control)", func(t *bench.TransportResult) string { return bytesPer(t.Wire.UpstreamBytesPerEvent) }, hasWire},
	{"TCP connections opened / peak", func(t *bench.TransportResult) string {
		return num(t.Wire.TCPConnections) + " / " + num(t.Wire.TCPConnectionsPeak)
	}, func(t *bench.TransportResult) bool { return t.Wire != nil }},
	{"server memory per subscriber (RSS peak − before) / subscribers (bytes)", func(t *bench.TransportResult) string {
		return num(int64(t.ServerBytesPerSubscriber))
	}, func(t *bench.TransportResult) bool { return t.ServerBytesPerSubscriber > 0 }},
}
