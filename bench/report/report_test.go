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
	paths := copyTestdata(t, "fanout.json", "connect.json", "reconnect.json", "tasks.json")
	files, err := report.Write(paths)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{ // file → strings it must contain
		"fanout.md": {"# fanout: ws vs sse", "| latency p99 (ms) |", "| lost | 0 | 0 |", "## Sweep", "fanout-latency-cdf.svg",
			"fanout-latency-vs-subscribers.svg", "server and load generator share cores"},
		"connect.md":   {"| connections peak |", "| server bytes per connection |", "connect-memory.svg", "connect-connections.svg"},
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
	paths := copyTestdata(t, "fanout.json", "connect.json")
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
	for _, n := range []string{"`go run ./cmd/loadgen full`", "## fanout", "## connect", "[fanout.md](fanout.md)", "hand-written", "## Environment"} {
		if !bytes.Contains(b, []byte(n)) {
			t.Errorf("index lacks %q", n)
		}
	}
}
