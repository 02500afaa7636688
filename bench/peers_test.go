package bench_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twinstream/twinstream/bench"
	"github.com/twinstream/twinstream/bench/report"
)

// needPeer skips a test whose peer server is not installed here, except
// under CI=true, where a missing peer fails the run (.ci/test installs
// them).
func needPeer(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" || !errors.Is(err, bench.ErrPeerMissing) {
		t.Fatal(err)
	}
	t.Skip(err)
}

// peerConfig is a scenario at test size against a spawned peer, with
// in-process workers.
func peerConfig(scenario, spawn string) bench.Config {
	c := bench.Defaults(scenario)
	c.Spawn = spawn
	c.InProcess = true
	c.Procs = 1
	c.Subscribers = []int{30}
	c.Connections = 30
	c.Rate = 20
	c.Duration = bench.Duration(1500 * time.Millisecond)
	c.Drain = bench.Duration(15 * time.Second)
	c.Settle = bench.Duration(time.Second)
	c.Hold = bench.Duration(500 * time.Millisecond)
	c.NoFloor = true
	return c
}

func run(t *testing.T, c bench.Config, scenario string) *bench.Result {
	t.Helper()
	r := &bench.Runner{Config: c, ModuleDir: ".."}
	if testing.Verbose() {
		r.Log = os.Stderr
	}
	res, err := r.Run(context.Background(), scenario)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkFanout: every subscriber got every event once, in order, each
// timed, from a server of kind.
func checkFanout(t *testing.T, res *bench.Result, kind string) {
	t.Helper()
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		if tr == nil || tr.NotSupported != "" {
			t.Fatalf("%s: no result (%+v)", name, tr)
		}
		if p := tr.Publisher; p == nil || p.Scheduled != 30 || p.Published != 30 || p.Errors != 0 {
			t.Errorf("%s: publisher %+v, want 30 of 30 published", name, p)
		}
		if tr.Expected != 30*30 || tr.Delivered != tr.Expected || tr.Lost != 0 || tr.Duplicates != 0 || tr.OutOfOrder != 0 || tr.Resets != 0 {
			t.Errorf("%s: expected %d delivered %d lost %d dup %d ooo %d resets %d, want 900 delivered exactly",
				name, tr.Expected, tr.Delivered, tr.Lost, tr.Duplicates, tr.OutOfOrder, tr.Resets)
		}
		if tr.LatencyMS.Count != int64(tr.Delivered) || tr.LatencyFromScheduleMS.Count != int64(tr.Delivered) || tr.LatencyMS.P50 <= 0 {
			t.Errorf("%s: latency %+v, from schedule %+v", name, tr.LatencyMS, tr.LatencyFromScheduleMS)
		}
		if c := tr.Connections; c.Established != 30 || c.Failed != 0 || c.Reconnects != 0 {
			t.Errorf("%s: connections %+v", name, c)
		}
		if tr.Server == nil || tr.Server.Kind != kind || tr.Server.PID == 0 || tr.ServerCPUUsPerDelivery <= 0 {
			t.Errorf("%s: server %+v, CPU per delivery %v", name, tr.Server, tr.ServerCPUUsPerDelivery)
		}
	}
}

func TestCentrifugoFanout(t *testing.T) {
	_, err := bench.FindCentrifugo("")
	needPeer(t, err)
	res := run(t, peerConfig(bench.ScenarioFanout, bench.KindCentrifugo), bench.ScenarioFanout)
	checkFanout(t, res, bench.KindCentrifugo)
	if v := res.Transports[bench.WS].Server.Version; !strings.Contains(v, "centrifugo") {
		t.Errorf("server version %q", v)
	}
}

// A drop of every connection: Centrifugo's clients come back and recover
// what they missed from the channel's history (offset and epoch).
func TestCentrifugoReconnect(t *testing.T) {
	_, err := bench.FindCentrifugo("")
	needPeer(t, err)
	res := run(t, peerConfig(bench.ScenarioReconnect, bench.KindCentrifugo), bench.ScenarioReconnect)
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		rc := tr.Reconnect
		if rc == nil || rc.Dropped != 30 || rc.Back != 30 {
			t.Fatalf("%s: reconnect %+v", name, rc)
		}
		if tr.Expected == 0 || tr.Lost != 0 || tr.Duplicates != 0 || tr.Resets != 0 || tr.Delivered != tr.Expected {
			t.Errorf("%s: expected %d delivered %d lost %d dup %d resets %d after recovery",
				name, tr.Expected, tr.Delivered, tr.Lost, tr.Duplicates, tr.Resets)
		}
	}
}

// What a target cannot do is said so, per transport, and is no error.
func TestCentrifugoTasksNotSupported(t *testing.T) {
	_, err := bench.FindCentrifugo("")
	needPeer(t, err)
	res := run(t, peerConfig(bench.ScenarioTasks, bench.KindCentrifugo), bench.ScenarioTasks)
	for _, name := range []string{bench.WS, bench.SSE} {
		if tr := res.Transports[name]; tr == nil || !strings.HasPrefix(tr.NotSupported, "not supported by target: ") {
			t.Errorf("%s: %+v, want not supported", name, tr)
		}
	}
}

func TestFastAPIFanout(t *testing.T) {
	_, err := bench.FindPython("")
	needPeer(t, err)
	res := run(t, peerConfig(bench.ScenarioFanout, bench.SpawnFastAPI), bench.ScenarioFanout)
	checkFanout(t, res, bench.KindCustom)
	if tr := res.Transports[bench.SSE]; tr.Server.Name != "fastapi" || !strings.Contains(tr.Server.Version, "fastapi") {
		t.Errorf("server %+v", tr.Server)
	}
}

// The FastAPI peer has no history: after a drop its clients come back,
// and what was published meanwhile is lost, counted exactly.
func TestFastAPIReconnect(t *testing.T) {
	_, err := bench.FindPython("")
	needPeer(t, err)
	res := run(t, peerConfig(bench.ScenarioReconnect, bench.SpawnFastAPI), bench.ScenarioReconnect)
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		rc := tr.Reconnect
		if rc == nil || rc.Dropped != 30 || rc.Back != 30 {
			t.Fatalf("%s: reconnect %+v", name, rc)
		}
		if tr.Expected == 0 || tr.Delivered+tr.Lost != tr.Expected || tr.Duplicates != 0 {
			t.Errorf("%s: expected %d delivered %d lost %d dup %d", name, tr.Expected, tr.Delivered, tr.Lost, tr.Duplicates)
		}
	}
}

// --target custom=FILE: a target file drives a server loadgen did not
// spawn (here the FastAPI peer, started by the test).
func TestCustomTargetFile(t *testing.T) {
	python, err := bench.FindPython("")
	needPeer(t, err)
	port := freeTestPort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(python, "-m", "uvicorn", "app:app", "--app-dir", bench.FastAPIDir(".."),
		"--host", "127.0.0.1", "--port", fmt.Sprint(port), "--log-level", "warning", "--no-access-log")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitHealthy(t, base+"/healthz")

	b, err := os.ReadFile(filepath.Join(bench.FastAPIDir(".."), "target.json"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "my-server.json")
	if err := os.WriteFile(file, []byte(strings.Replace(string(b), "http://127.0.0.1:8000", base, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	c := peerConfig(bench.ScenarioFanout, "")
	c.Targets = []string{"custom=" + file}
	res := run(t, c, bench.ScenarioFanout)
	for _, name := range []string{bench.WS, bench.SSE} {
		tr := res.Transports[name]
		if tr.Expected != 900 || tr.Delivered != 900 || tr.Lost != 0 || tr.Duplicates != 0 || tr.OutOfOrder != 0 {
			t.Errorf("%s: expected %d delivered %d lost %d dup %d ooo %d", name, tr.Expected, tr.Delivered, tr.Lost, tr.Duplicates, tr.OutOfOrder)
		}
		// Not spawned: the server's figures come from the file's metrics endpoint.
		if tr.Server == nil || tr.Server.Kind != bench.KindCustom || tr.Server.PID != 0 || tr.ServerRSSBytes <= 0 {
			t.Errorf("%s: server %+v, RSS %d", name, tr.Server, tr.ServerRSSBytes)
		}
	}
}

func freeTestPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitHealthy(t *testing.T, u string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := client.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s did not answer in 30 s", u)
}

// loadgen peers at test size: every step against every peer, one index,
// one side-by-side report.
func TestPeersSuite(t *testing.T) {
	_, err := bench.FindCentrifugo("")
	needPeer(t, err)
	_, err = bench.FindPython("")
	needPeer(t, err)
	s := bench.PeersDefaults()
	s.Base = peerConfig(bench.ScenarioFanout, "")
	s.Fanout, s.Connections, s.Reconnect = []int{20}, 20, 20
	s.Out, s.ModuleDir = t.TempDir(), ".."
	pr, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.Runs) != 3*3 {
		t.Fatalf("%d runs, want 9: %+v", len(pr.Runs), pr.Runs)
	}
	files, err := report.WritePeers(s.Out)
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(s.Out, "README.md"))
	if err != nil || len(files) < 2 {
		t.Fatalf("report %v: %v", files, err)
	}
	for _, want := range []string{"## WebSocket", "## SSE", "fanout 20: latency from schedule", "connect 20: server RSS per connection",
		"reconnect 20: lost / duplicated after the drop", "÷ centrifugo", "÷ fastapi", "v6.9.1"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(md), "failed:") {
		t.Errorf("a run failed:\n%s", md)
	}
}
