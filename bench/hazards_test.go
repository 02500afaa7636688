package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

// needTool skips a hazard test when its tool is missing, except under
// CI=true, where .ci/test installs it and a missing one fails.
func needTool(t *testing.T, name, path string) {
	t.Helper()
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (apt-get install %s)", name, name)
	}
	t.Skipf("%s not installed (apt-get install %s)", name, name)
}

// runHazard runs one hazard against real processes (the demo server built
// from this checkout, nginx, Chromium) and returns it.
func runHazard(t *testing.T, name string) bench.Hazard {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := bench.BuildServer(ctx, bench.ModuleDir(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := bench.Defaults(bench.ScenarioHazards)
	c.ServerBin, c.Hazards = bin, []string{name}
	r := &bench.Runner{Config: c}
	res, err := r.Run(ctx, bench.ScenarioHazards)
	if err != nil {
		t.Fatal(err)
	}
	if res.Hazards == nil || len(res.Hazards.Hazards) != 1 {
		t.Fatalf("hazards result %+v", res.Hazards)
	}
	h := res.Hazards.Hazards[0]
	if h.Skipped != "" {
		t.Skip(h.Skipped)
	}
	for _, c := range h.Cases {
		t.Logf("%s: %s", c.Name, c.Verdict)
	}
	return h
}

// wantCases checks that each case shows its symptom exactly when it is
// the broken configuration, and that at least want cases ran.
func wantCases(t *testing.T, h bench.Hazard, want int) {
	t.Helper()
	if len(h.Cases) != want {
		t.Fatalf("%d cases, want %d", len(h.Cases), want)
	}
	for _, c := range h.Cases {
		if c.Broken != c.Symptom {
			t.Errorf("%s: broken %v but symptom %v: %s", c.Name, c.Broken, c.Symptom, c.Verdict)
		}
	}
	if h.Fix == "" {
		t.Error("no fix")
	}
}

// nginx's default proxy buffering (HTTP/1.0 to the upstream) holds an SSE
// stream whole, not even the headers arrive; with proxy_http_version 1.1
// it passes each chunk on to a client that keeps up, but gzip on for
// text/event-stream holds it again; honouring the stream's
// X-Accel-Buffering: no, every event is on time even with gzip.
func TestHazardProxyBuffering(t *testing.T) {
	t.Parallel()
	needTool(t, "nginx", bench.NginxPath())
	h := runHazard(t, bench.HazardProxyBuffering)
	wantCases(t, h, 4)
	for _, i := range []int{0, 2} {
		if c := h.Cases[i]; c.Received != 0 {
			t.Errorf("%s: delivered %d events", c.Name, c.Received)
		}
	}
	if c := h.Cases[3]; c.Received != c.Expected {
		t.Errorf("X-Accel-Buffering: no delivered %d of %d", c.Received, c.Expected)
	}
}

// A WebSocket through nginx's defaults never opens (the upgrade is lost:
// the demo answers 426); with the Upgrade headers it delivers everything.
func TestHazardProxyUpgrade(t *testing.T) {
	t.Parallel()
	needTool(t, "nginx", bench.NginxPath())
	h := runHazard(t, bench.HazardProxyUpgrade)
	wantCases(t, h, 2)
	if c := h.Cases[0]; c.Status != 426 {
		t.Errorf("broken upgrade: status %d, want 426", c.Status)
	}
}

// A gzip middleware that does not flush its compressor holds SSE; one
// that does, and the demo's own --sse-gzip, deliver on time.
func TestHazardGzipMiddleware(t *testing.T) {
	t.Parallel()
	h := runHazard(t, bench.HazardGzipMiddleware)
	wantCases(t, h, 3)
}

// nginx's proxy_read_timeout 5s cuts quiet streams of both transports
// without heartbeats, and keeps them with a heartbeat every 2 s.
func TestHazardProxyIdleTimeout(t *testing.T) {
	t.Parallel()
	needTool(t, "nginx", bench.NginxPath())
	h := runHazard(t, bench.HazardProxyIdle)
	wantCases(t, h, 4)
	for _, c := range h.Cases {
		if c.Broken && (c.EndedAfterS < 4 || c.EndedAfterS > 8) {
			t.Errorf("%s: cut after %.1f s, want about 5 s", c.Name, c.EndedAfterS)
		}
	}
}

// In real Chromium, 7 EventSources to one origin over HTTP/1.1 open 6 and
// a fetch hangs; over HTTP/2 all 7 open and the fetch answers; 7
// WebSockets open too.
func TestHazardBrowserConnectionLimit(t *testing.T) {
	t.Parallel()
	needTool(t, "chromium", bench.ChromiumPath)
	h := runHazard(t, bench.HazardBrowserLimit)
	wantCases(t, h, 3)
	if c := h.Cases[0]; c.Open != 6 || c.FetchMS >= 0 || c.Protocol != "http/1.1" {
		t.Errorf("HTTP/1.1: %d open, fetch %v ms, %s; want 6, hung, http/1.1", c.Open, c.FetchMS, c.Protocol)
	}
	if c := h.Cases[1]; c.Protocol != "h2" {
		t.Errorf("HTTP/2 case ran over %q", c.Protocol)
	}
}

// The hazards result renders as a report and as the deployment facts.
func TestHazardsReport(t *testing.T) {
	res := &bench.Result{Scenario: bench.ScenarioHazards, Config: bench.Defaults(bench.ScenarioHazards),
		Transports: map[string]*bench.TransportResult{}, StartedAt: time.Now(), EndedAt: time.Now(),
		Hazards: &bench.HazardsResult{Hazards: []bench.Hazard{{Name: bench.HazardProxyIdle, Title: "idle timeout", Fix: "heartbeat",
			Cases: []bench.HazardCase{{Name: "off", Broken: true, Symptom: true, Verdict: "cut after 5.0 s"}, {Name: "on", Verdict: "kept"}}}}}}
	dir := filepath.Join(t.TempDir(), "results")
	path := bench.DefaultPath(dir, res.Scenario, res.StartedAt)
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	files, err := report.Write([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(strings.TrimSuffix(path, ".json") + ".md")
	if !strings.Contains(string(md), "| off | **broken** | cut after 5.0 s |") || !strings.Contains(string(md), "**Fix**: heartbeat.") {
		t.Errorf("report:\n%s", md)
	}
	facts, err := report.DeploymentFacts(dir)
	if err != nil || len(facts.Facts) != 1 {
		t.Fatalf("facts %+v, %v (files %v)", facts, err, files)
	}
	f := facts.Facts[0]
	if f.Broken != "off: cut after 5.0 s" || f.Fixed != "on: kept" || f.Source != "results/"+filepath.Base(path) {
		t.Errorf("fact %+v", f)
	}
	idx, err := report.WriteIndex(dir, []string{path}, "loadgen hazards", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(idx)
	if !strings.Contains(string(b), "## Deployment facts") {
		t.Errorf("index without Deployment facts:\n%s", b)
	}
}
