package report_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// copyTestdata copies the committed sample results (from real small runs)
// into a temporary directory and returns their paths there.
func copyTestdata(t *testing.T, names ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestWrite(t *testing.T) {
	t.Parallel()
	paths := copyTestdata(t, "fanout.json", "connect.json", "reconnect.json", "tasks.json", "sweep.json")
	files, err := report.Write(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // file → strings it must contain
		"fanout.md": {"# fanout: ws vs sse", "| |ws|sse|floor (plain TCP)|", "| latency p99 (ms) |", "| lost | 0 | 0 | 0 |", "## Sweep", "fanout-latency-cdf.svg",
			"fanout-latency-vs-subscribers.svg", "server and load generator share cores",
			"| server CPU per delivery (µs) |", "| load generator CPU per delivery (µs, all processes) |",
			"| server write syscalls per delivery |", "| server allocations per delivery |",
			"| server CPU × floor |", "| load generator CPU × floor |", "| server write syscalls × floor |", "| latency p50 / p99 × floor |",
			"| subscribers | events/s | transport |", "server CPU µs/delivery | loadgen CPU µs/delivery | server write syscalls/delivery | server allocs/delivery | server CPU × floor |",
			"| 50 | 10 | floor |", "- GC: load generator GOGC=", "**floor**", "**per delivery**"},
		"sweep.md": {"# sweep: ws vs sse", "## Saturation", "| | highest sustained deliveries/s | at events/s | × floor | first rate that missed | why it stopped | steps |",
			"| floor (plain TCP) |", "p99 latency from schedule", "sweep-saturation.svg", "## Sweep", "| 50 | 10 | ws |", "| 50 | 10 | floor |", "**sweep**"},
		"connect.md": {"| connections peak |", "| server bytes per connection |", "connect-memory.svg", "connect-connections.svg",
			"| server Go heap per connection (bytes) |", "| server goroutine stacks per connection (bytes) |", "| server goroutines per connection |",
			"| server RSS at hold start → end |", "| server RSS growth during the hold per connection (bytes) |"},
		"reconnect.md": {"| reconnect: 50% / 90% / 99% / all back (ms) |", "| reconnect: peak per 100 ms |", "reconnect-reconnect-timeline.svg", "reconnect-reconnect-back.svg"},
		"tasks.md":     {"| tasks: same final state everywhere | true (0 mismatches) | true (0 mismatches) |", "POST → terminal"},
	}
	got := map[string]bool{}
	for _, f := range files {
		got[filepath.Base(f)] = true
	}
	for md, needles := range want {
		if !got[md] {
			t.Errorf("%s not written (got %v)", md, files)
			continue
		}
		b, err := os.ReadFile(filepath.Join(filepath.Dir(paths[0]), md))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if !bytes.Contains(b, []byte(n)) {
				t.Errorf("%s lacks %q", md, n)
			}
			if strings.HasSuffix(n, ".svg") && !got[n] {
				t.Errorf("%s links %s, which was not written", md, n)
			}
		}
	}
	for _, f := range files {
		if filepath.Ext(f) == ".svg" {
			checkSVG(t, f)
		}
	}
}

// checkSVG parses a chart as XML and checks that it draws lines.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	paths, root := 0, ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "path" {
				paths++
			}
		}
	}
	if root != "svg" || paths < 3 {
		t.Errorf("%s: root <%s>, %d paths", path, root, paths)
	}
}

// TestCostColumns: per-delivery figures and their floor multiples, and
// what the report says when a --target server has no pid to read.
func TestCostColumns(t *testing.T) {
	t.Parallel()
	r, err := bench.ReadResult("testdata/fanout.json")
	if err != nil {
		t.Fatal(err)
	}
	ws := r.Transports[bench.WS]
	ws.ServerCPUUsPerDelivery, ws.LoadgenCPUUsPerDelivery, ws.ServerWriteSyscallsPerDelivery, ws.ServerAllocsPerDelivery = 12.5, 20, 0.25, 1.5
	ws.VsFloor = &bench.FloorMultiples{ServerCPU: 1.6, LoadgenCPU: 2, ServerWriteSyscalls: 0.25, LatencyP50: 3, LatencyP99: 12}
	var b strings.Builder
	report.Markdown(&b, r, nil)
	for _, n := range []string{"| server CPU per delivery (µs) | 12.50 |", "| server write syscalls per delivery | 0.250 |",
		"| server allocations per delivery | 1.500 |", "| server CPU × floor | 1.6× |", "| latency p50 / p99 × floor | 3× / 12× |"} {
		if !strings.Contains(b.String(), n) {
			t.Errorf("report lacks %q", n)
		}
	}
	if strings.Contains(b.String(), "not measured for") {
		t.Errorf("a spawned server's figures are said to be missing:\n%s", b.String())
	}
	// A --target: syscalls cannot be read, and the report says so.
	for _, tr := range r.Transports {
		tr.ServerWriteSyscallsPerDelivery = 0
	}
	b.Reset()
	report.Markdown(&b, r, nil)
	if !strings.Contains(b.String(), "Server write syscalls per delivery are not measured for ws, sse: a --target server has no pid here") {
		t.Errorf("report does not say why syscalls are missing:\n%s", b.String())
	}
}

func TestWriteRejectsOtherJSON(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(p, []byte(`{"hello":"world"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := report.Write([]string{p}); err == nil {
		t.Error("Write accepted a JSON file that is not a result")
	}
	if _, err := report.Write([]string{filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("Write accepted a missing file")
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	r, err := bench.ReadResult("testdata/reconnect.json")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	report.Summary(&b, r)
	for _, n := range []string{"reconnect", "ws", "sse", "reconnect: back / dropped", "lost"} {
		if !strings.Contains(b.String(), n) {
			t.Errorf("summary lacks %q:\n%s", n, b.String())
		}
	}
	r.Interrupted = true
	b.Reset()
	report.Summary(&b, r)
	if !strings.Contains(b.String(), "(interrupted)") {
		t.Errorf("summary of an interrupted run does not say so:\n%s", b.String())
	}
}

func TestWriteIndex(t *testing.T) {
	t.Parallel()
	paths := copyTestdata(t, "fanout.json", "connect.json", "sweep.json")
	dir := filepath.Dir(paths[0])
	if err := os.WriteFile(filepath.Join(dir, "NOTES.md"), []byte("## Notes\n\nhand-written"), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := report.WriteIndex(dir, paths, "go run ./cmd/loadgen full", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"`go run ./cmd/loadgen full`", "## fanout", "## connect", "[fanout.md](fanout.md)", "hand-written", "## Environment",
		"## sweep", "highest sustained deliveries/s", "floor (plain TCP)"} {
		if !bytes.Contains(b, []byte(n)) {
			t.Errorf("index lacks %q", n)
		}
	}
}
