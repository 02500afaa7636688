package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// build compiles loadgen and the demo server into dir.
func build(t *testing.T) (loadgen, demo string) {
	t.Helper()
	dir := t.TempDir()
	loadgen, demo = filepath.Join(dir, "loadgen"), filepath.Join(dir, "demo")
	for bin, pkg := range map[string]string{loadgen: ".", demo: "../demo"} {
		out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return loadgen, demo
}

// TestScenarios runs every scenario small against a spawned demo server,
// with worker processes, and checks the JSON's public field names and the
// figures that must hold on any machine.
func TestScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs loadgen and the demo server (about a minute)")
	}
	loadgen, demo := build(t)
	dir := t.TempDir()
	tests := []struct {
		scenario string
		args     []string
		check    func(t *testing.T, name string, tr map[string]any)
	}{
		{"fanout", []string{"--subscribers", "200", "--duration", "3s", "--procs", "2", "--server-cpuprofile", filepath.Join(dir, "server.pprof")}, func(t *testing.T, name string, tr map[string]any) {
			// A CPU profile of the spawned server over the publishing phase.
			if st, err := os.Stat(filepath.Join(dir, "server-"+name+".pprof")); err != nil || st.Size() == 0 {
				t.Errorf("%s: server CPU profile: %v", name, err)
			}
			if num(tr, "expected") == 0 || num(tr, "lost") != 0 || num(tr, "duplicates") != 0 || num(tr, "out_of_order") != 0 {
				t.Errorf("%s: %v expected, %v lost, %v duplicates, %v out of order", name, tr["expected"], tr["lost"], tr["duplicates"], tr["out_of_order"])
			}
			if num(tr, "delivered") != num(tr, "expected") || num(tr, "deliveries_per_s") <= 0 || num(tr, "latency_ms", "p99") <= 0 {
				t.Errorf("%s: delivered %v of %v, %v/s, latency %v", name, tr["delivered"], tr["expected"], tr["deliveries_per_s"], tr["latency_ms"])
			}
			// 10 events/s for 3 s: exactly 30, each expected by all 200.
			if num(tr, "publisher", "scheduled") != 30 || num(tr, "publisher", "published") != 30 || num(tr, "publisher", "errors") != 0 || num(tr, "expected") != 30*200 {
				t.Errorf("%s: publisher %v, expected %v", name, tr["publisher"], tr["expected"])
			}
			// The cost of a delivery, from /proc and /metrics of the spawned server.
			for _, k := range []string{"server_cpu_us_per_delivery", "loadgen_cpu_us_per_delivery", "server_write_syscalls_per_delivery", "server_allocs_per_delivery"} {
				if num(tr, k) <= 0 {
					t.Errorf("%s: %s = %v", name, k, tr[k])
				}
			}
		}},
		{"sweep", []string{"--subscribers", "50", "--step-duration", "1s", "--sweep-max", "20"}, func(t *testing.T, name string, tr map[string]any) {
			if num(tr, "expected") == 0 || num(tr, "delivered") != num(tr, "expected") || num(tr, "server_cpu_us_per_delivery") <= 0 {
				t.Errorf("%s: best step: expected %v delivered %v, server CPU per delivery %v", name, tr["expected"], tr["delivered"], tr["server_cpu_us_per_delivery"])
			}
		}},
		{"connect", []string{"--connections", "50", "--hold", "2s"}, func(t *testing.T, name string, tr map[string]any) {
			if num(tr, "connections", "established") != 50 || num(tr, "connections", "failed") != 0 || num(tr, "connections", "peak") != 50 {
				t.Errorf("%s: connections %v", name, tr["connections"])
			}
			if num(tr, "server_rss_bytes") <= 0 || num(tr, "connect_ms", "p50") <= 0 {
				t.Errorf("%s: rss %v, connect %v", name, tr["server_rss_bytes"], tr["connect_ms"])
			}
			if _, ok := tr["server_bytes_per_conn"]; !ok {
				t.Errorf("%s: no server_bytes_per_conn", name)
			}
			// Sampled with every connection open: each has at least one
			// goroutine on the demo server.
			if g := num(tr, "server_goroutines_per_conn"); g < 1 {
				t.Errorf("%s: server goroutines per connection %v", name, g)
			}
			// Every connection has a goroutine, so stacks grow with them;
			// the hold's RSS is recorded at both ends.
			if num(tr, "server_stacks_bytes_per_conn") <= 0 || num(tr, "server_rss_hold", "start_bytes") <= 0 || num(tr, "server_rss_hold", "end_bytes") <= 0 {
				t.Errorf("%s: stacks per connection %v, hold %v", name, tr["server_stacks_bytes_per_conn"], tr["server_rss_hold"])
			}
			if hold, _ := tr["server_rss_hold"].(map[string]any); hold["growth_bytes_per_conn"] == nil {
				t.Errorf("%s: no growth_bytes_per_conn in %v", name, tr["server_rss_hold"])
			}
		}},
		{"reconnect", []string{"--subscribers", "50", "--settle", "1s", "--sse-retry", "500ms"}, func(t *testing.T, name string, tr map[string]any) {
			if num(tr, "reconnect", "lost") != 0 || num(tr, "reconnect", "duplicates") != 0 || num(tr, "reconnect", "max_ms") <= 0 {
				t.Errorf("%s: reconnect %v", name, tr["reconnect"])
			}
			if num(tr, "reconnect", "back") != 50 || num(tr, "reconnect", "dropped") != 50 {
				t.Errorf("%s: reconnect %v", name, tr["reconnect"])
			}
		}},
		{"tasks", []string{"--tasks", "5", "--watchers", "4", "--task-files", "5"}, func(t *testing.T, name string, tr map[string]any) {
			tasks, _ := tr["tasks"].(map[string]any)
			if tasks["consistent"] != true || num(tr, "tasks", "completed") != 20 || num(tr, "lost") != 0 {
				t.Errorf("%s: tasks %v, lost %v", name, tr["tasks"], tr["lost"])
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			out := filepath.Join(dir, tc.scenario+".json")
			args := append([]string{tc.scenario, "--server-bin", demo, "--out", out}, tc.args...)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, loadgen, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("loadgen %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
			}
			res := readJSON(t, out)
			checkShape(t, res, tc.scenario)
			switch tc.scenario {
			case "fanout":
				checkFloor(t, res)
			case "sweep":
				checkSaturation(t, res)
			}
			for _, name := range []string{"ws", "sse"} {
				tc.check(t, name, res["transports"].(map[string]any)[name].(map[string]any))
			}
			if _, err := os.Stat(strings.TrimSuffix(out, ".json") + ".md"); err != nil {
				t.Errorf("no report: %v", err)
			}
			if !strings.Contains(stdout.String(), "wrote "+out) {
				t.Errorf("stdout does not name the result file:\n%s", stdout.String())
			}
			if !strings.Contains(stderr.String(), "["+tc.scenario+" ws") {
				t.Errorf("no live progress on stderr:\n%s", stderr.String())
			}
		})
	}
}

// TestInterrupt stops a run with SIGINT: loadgen must still write what it
// measured, marked interrupted, and exit 130.
func TestInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs loadgen and the demo server")
	}
	loadgen, demo := build(t)
	out := filepath.Join(t.TempDir(), "fanout.json")
	cmd := exec.Command(loadgen, "fanout", "--server-bin", demo, "--subscribers", "20", "--duration", "5m", "--transports", "ws", "--out", out)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(stderr.String(), "published") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130\n%s", err, stderr.String())
	}
	res := readJSON(t, out)
	if res["interrupted"] != true {
		t.Errorf("interrupted = %v", res["interrupted"])
	}
	ws := res["transports"].(map[string]any)["ws"].(map[string]any)
	if num(ws, "delivered") == 0 || num(ws, "lost") != 0 {
		t.Errorf("interrupted run: delivered %v, lost %v", ws["delivered"], ws["lost"])
	}
}

// checkFloor checks the floor of a fanout run (200 subscribers, 30 events):
// it delivered everything with nothing lost, its costs were measured on
// both sides, and each transport is set against it.
func checkFloor(t *testing.T, res map[string]any) {
	t.Helper()
	fl, ok := res["floor"].(map[string]any)
	if !ok {
		t.Fatal("no floor in the fanout result")
	}
	if num(fl, "expected") != 30*200 || num(fl, "delivered") != 30*200 || num(fl, "lost") != 0 || num(fl, "duplicates") != 0 || num(fl, "out_of_order") != 0 {
		t.Errorf("floor: expected %v delivered %v lost %v duplicates %v out of order %v", fl["expected"], fl["delivered"], fl["lost"], fl["duplicates"], fl["out_of_order"])
	}
	if num(fl, "latency_ms", "p50") <= 0 || num(fl, "latency_from_schedule_ms", "p99") <= 0 || num(fl, "connections", "established") != 200 {
		t.Errorf("floor: latency %v, from schedule %v, connections %v", fl["latency_ms"], fl["latency_from_schedule_ms"], fl["connections"])
	}
	// The writer is a process of its own: its CPU and write syscalls are
	// read from /proc, like a spawned server's. One write per delivery,
	// plus the writer's few others.
	for _, k := range []string{"server_cpu_us_per_delivery", "loadgen_cpu_us_per_delivery", "server_write_syscalls_per_delivery"} {
		if num(fl, k) <= 0 {
			t.Errorf("floor: %s = %v", k, fl[k])
		}
	}
	if w := num(fl, "server_write_syscalls_per_delivery"); w < 1 || w > 1.5 {
		t.Errorf("floor: %v write syscalls per delivery, want one each", w)
	}
	if num(fl, "server", "pid") <= 0 {
		t.Errorf("floor: server %v", fl["server"])
	}
	for _, name := range []string{"ws", "sse"} {
		tr := res["transports"].(map[string]any)[name].(map[string]any)
		if num(tr, "vs_floor", "server_cpu") <= 0 || num(tr, "vs_floor", "loadgen_cpu") <= 0 || num(tr, "vs_floor", "latency_p99") <= 0 {
			t.Errorf("%s: vs_floor %v", name, tr["vs_floor"])
		}
	}
}

// checkSaturation checks a sweep's verdicts: one per transport and the
// floor, each after at least one step (10 and 20 events/s were asked).
func checkSaturation(t *testing.T, res map[string]any) {
	t.Helper()
	sat, _ := res["saturation"].(map[string]any)
	for _, name := range []string{"ws", "sse", "floor"} {
		s, ok := sat[name].(map[string]any)
		if !ok {
			t.Errorf("no saturation.%s in %v", name, res["saturation"])
			continue
		}
		if num(s, "steps") < 1 || num(s, "subscribers") != 50 || s["stopped_because"] == "" {
			t.Errorf("saturation.%s = %v", name, s)
		}
		if _, ok := s["max_sustained_deliveries_per_s"]; !ok {
			t.Errorf("saturation.%s lacks max_sustained_deliveries_per_s", name)
		}
	}
	steps, _ := res["sweep"].([]any)
	if len(steps) == 0 {
		t.Fatal("no sweep steps")
	}
	if first, _ := steps[0].(map[string]any); num(first, "rate") != 10 || first["floor"] == nil {
		t.Errorf("first step %v", first)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the command writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkShape checks the field names issue 3 makes public.
func checkShape(t *testing.T, res map[string]any, scenario string) {
	t.Helper()
	if res["scenario"] != scenario {
		t.Errorf("scenario = %v", res["scenario"])
	}
	for _, k := range []string{"config", "env", "transports"} {
		if _, ok := res[k].(map[string]any); !ok {
			t.Errorf("no %q object", k)
		}
	}
	env := res["env"].(map[string]any)
	for _, k := range []string{"git_commit", "go_version", "gomaxprocs", "cpu_model", "cores", "kernel", "shared_cores", "loadgen_affinity", "server_affinity", "loadgen_gc", "server_gc"} {
		if _, ok := env[k]; !ok {
			t.Errorf("env lacks %q", k)
		}
	}
	for _, name := range []string{"ws", "sse"} {
		tr, ok := res["transports"].(map[string]any)[name].(map[string]any)
		if !ok {
			t.Fatalf("no transports.%s", name)
		}
		for _, k := range []string{"latency_ms", "expected", "delivered", "lost", "duplicates", "out_of_order", "deliveries_per_s", "connections", "connect_ms"} {
			if _, ok := tr[k]; !ok {
				t.Errorf("transports.%s lacks %q", name, k)
			}
		}
		for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
			if _, ok := tr["latency_ms"].(map[string]any)[k]; !ok {
				t.Errorf("transports.%s.latency_ms lacks %q", name, k)
			}
		}
		for _, k := range []string{"attempted", "established", "failed", "peak"} {
			if _, ok := tr["connections"].(map[string]any)[k]; !ok {
				t.Errorf("transports.%s.connections lacks %q", name, k)
			}
		}
		if rc, ok := tr["reconnect"].(map[string]any); ok {
			for _, k := range []string{"p50_ms", "p90_ms", "p99_ms", "max_ms", "lost", "duplicates"} {
				if _, ok := rc[k]; !ok {
					t.Errorf("transports.%s.reconnect lacks %q", name, k)
				}
			}
		} else if scenario == "reconnect" {
			t.Errorf("transports.%s has no reconnect", name)
		}
	}
}

// num reads a number at a path of keys (0 when absent).
func num(v map[string]any, keys ...string) float64 {
	var cur any = v
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0
		}
		cur = m[k]
	}
	f, _ := cur.(float64)
	return f
}
