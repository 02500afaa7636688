package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/internal/redistest"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

func TestRoleFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		err  string // "" = valid
	}{
		{nil, ""},
		{[]string{"--role", "all"}, ""},
		{[]string{"--role", "edge", "--redis", "redis://127.0.0.1:6379/0"}, ""},
		{[]string{"--role", "worker", "--redis", "redis://127.0.0.1:6379/0", "--workers", "3"}, ""},
		{[]string{"--role", "edge"}, "--role: edge needs --redis"},
		{[]string{"--role", "worker"}, "--role: worker needs --redis"},
		{[]string{"--role", "boss"}, `--role: "boss" is not a role; want all, edge, worker`},
	} {
		_, _, err := server.ParseFlags(tc.args, new(strings.Builder))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.err)
		}
	}
}

// workerNodeEnv tells the test binary, run again as a child, to be a demo
// node with --role worker on the Redis it names (TestWorkerNodeProcess).
const workerNodeEnv = "TWINSTREAM_WORKER_NODE_REDIS"

// TestWorkerNodeProcess is not a test: as a child with workerNodeEnv set it
// is `demo --role worker --redis URL --addr 127.0.0.1:0` until killed.
func TestWorkerNodeProcess(t *testing.T) {
	url := os.Getenv(workerNodeEnv)
	if url == "" {
		t.Skip("a helper: runs only as a child of the tests that start worker nodes")
	}
	cfg := server.Config{Addr: "127.0.0.1:0", Redis: []string{url}, Role: server.RoleWorker, Workers: 2}
	if err := server.Run(context.Background(), cfg, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// workerNode is a worker-only demo node in a process of its own.
type workerNode struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startWorkerNode starts a worker node on url's Redis and waits for its
// listening line; it is killed when the test ends.
func startWorkerNode(t *testing.T, redisURL string) *workerNode {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWorkerNodeProcess$")
	cmd.Env = append(os.Environ(), workerNodeEnv+"="+redisURL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerNode{cmd: cmd, exited: make(chan struct{})}
	found := make(chan string, 1)
	go func() { // owner: startWorkerNode's node; ends when the child's stdout closes, then reaps it
		defer close(w.exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), server.ListenBanner); ok {
				found <- u
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(w.kill)
	select {
	case w.url = <-found:
	case <-w.exited:
		t.Fatal("the worker node exited before listening")
	case <-time.After(20 * time.Second):
		t.Fatal("the worker node did not start within 20s")
	}
	return w
}

// kill ends the node with SIGKILL, as a crash would, and reaps it.
func (w *workerNode) kill() {
	_ = w.cmd.Process.Signal(syscall.SIGKILL)
	<-w.exited
}

// get fetches a path of the worker node.
func (w *workerNode) get(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := http.Get(w.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(res.Body).WriteTo(&b)
	return res.StatusCode, b.String()
}

// watchTask opens the task's stream over WebSocket on a and over SSE on b.
func watchTask(t *testing.T, a, b *testServer, id string) (func() [][]byte, func() []string) {
	t.Helper()
	w := a.dialWS("/ws/tasks/" + id)
	s := openSSELong(t, b, "/sse/tasks/"+id).expectStream()
	ws := func() [][]byte {
		frames, code := w.untilClose()
		if code != 1000 {
			t.Fatalf("WS on A closed with %d, want 1000", code)
		}
		return frames
	}
	sse := func() []string {
		var out []string
		for _, f := range s.events() {
			out = append(out, f.data)
		}
		return out
	}
	return ws, sse
}

// sameTaskStream checks that WS and SSE got the same events, byte for
// byte, a snapshot first, seq contiguous, the terminal event last; it
// returns the final state.
func sameTaskStream(t *testing.T, ws [][]byte, sse []string) tasks.Task {
	t.Helper()
	if len(ws) != len(sse) || len(ws) < 2 {
		t.Fatalf("WS got %d events, SSE %d", len(ws), len(sse))
	}
	var first uint64
	for i := range ws {
		if string(ws[i]) != sse[i] {
			t.Fatalf("event %d differs:\nWS  %s\nSSE %s", i, ws[i], sse[i])
		}
		e := wireEvent(t, ws[i])
		switch {
		case i == 0:
			if e.Event != transports.KindSnapshot {
				t.Fatalf("first event is %s, want a snapshot", e.Event)
			}
			first = e.Seq
		case e.Seq != first+uint64(i):
			t.Fatalf("event %d has seq %d, want %d (contiguous from the snapshot's %d)", i, e.Seq, first+uint64(i), first)
		}
		if last := i == len(ws)-1; taskstream.IsTerminal(e.Event) != last {
			t.Fatalf("event %d (%s) terminal=%v, want terminal only last", i, e.Event, !last)
		}
	}
	var final tasks.Task
	if err := json.Unmarshal(wireEvent(t, ws[len(ws)-1]).Data, &final); err != nil {
		t.Fatal(err)
	}
	return final
}

// A task started on node A (edge) is run by a worker-only process: a
// WebSocket on A and an SSE stream on node B get the same events, the
// same seq and JSON, snapshot first and terminal last; every node answers
// GET /api/tasks/:id; the worker serves /healthz and /metrics only.
func TestTaskAcrossNodes(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	cfg := server.Config{Redis: []string{rs.URL()}, Role: server.RoleEdge}
	a, b := start(t, cfg), start(t, cfg)

	var task tasks.Task
	a.do("POST", "/api/tasks", `{"files":10,"step_ms":20}`).decode(t, &task)
	ws, sse := watchTask(t, a, b, task.ID)
	time.Sleep(200 * time.Millisecond)
	if got := getTask(t, b, task.ID); got.Status != tasks.StatusQueued {
		t.Fatalf("with no worker anywhere the task is %s on B, want queued", got.Status)
	}
	worker := startWorkerNode(t, rs.URL())
	final := sameTaskStream(t, ws(), sse())
	if final.Status != tasks.StatusCompleted || final.Done != 10 || final.Attempts != 1 {
		t.Fatalf("final state %+v", final)
	}
	for _, n := range []*testServer{a, b} {
		if got := getTask(t, n, task.ID); got.Status != tasks.StatusCompleted || got.UpdatedAt != final.UpdatedAt {
			t.Errorf("GET /api/tasks/%s on %s: %+v, want the final state", task.ID, n.url, got)
		}
	}
	if code, body := worker.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("worker /healthz: %d %s", code, body)
	}
	if code, _ := worker.get(t, "/api/tasks/"+task.ID); code != http.StatusNotFound {
		t.Errorf("worker GET /api/tasks/:id: %d, want 404 (workers serve no API)", code)
	}
	if code, _ := worker.get(t, "/ws/tasks/"+task.ID); code != http.StatusNotFound {
		t.Errorf("worker GET /ws/tasks/:id: %d, want 404 (workers serve no streams)", code)
	}
	code, body := worker.get(t, "/metrics")
	if code != http.StatusOK || !strings.Contains(body, `twinstream_tasks_finished_total{status="completed"} 1`) ||
		!strings.Contains(body, "twinstream_task_workers 2") {
		t.Errorf("worker /metrics: %d, want the finished task counted and 2 workers:\n%s", code, grep(body, "twinstream_task"))
	}
	fams := a.scrape()
	if v := value(t, fams, "twinstream_broker_round_trips_total"); v < 1 {
		t.Errorf("edge A counted %v broker round trips, want some", v)
	}
	if v := value(t, fams, "twinstream_tasks", "status=completed"); v != 1 {
		t.Errorf("edge A's twinstream_tasks{status=completed} = %v, want 1 (the deployment's, from Redis)", v)
	}
	var st server.Metrics
	a.do("GET", "/api/stats", "").decode(t, &st)
	if st.Node.Role != server.RoleEdge || st.Node.Broker != "redis" || st.Node.RedisShards != 1 || !strings.Contains(st.Node.RedisVersion, ".") {
		t.Errorf("edge A's node %+v: want an edge on one Redis shard, with its version", st.Node)
	}
	if st.Tasks.Submitted != 1 || st.Tasks.Workers != 0 || st.Tasks.Completed != 0 {
		t.Errorf("edge A's task stats %+v: want 1 submitted, no workers, none run", st.Tasks)
	}
}

// The same across nodes when the worker running the task is killed with
// SIGKILL mid-task: once asynq's lease has run out (about a minute) another
// worker process continues it, and both streams, which stayed open all
// along, end with the completed event; never stuck running.
func TestTaskAcrossNodesWorkerKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("waits about a minute for asynq's lease to run out")
	}
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	cfg := server.Config{Redis: []string{rs.URL()}, Role: server.RoleEdge, Heartbeat: 2 * time.Second}
	a, b := start(t, cfg), start(t, cfg)
	var task tasks.Task
	a.do("POST", "/api/tasks", `{"files":30,"step_ms":100}`).decode(t, &task)
	ws, sse := watchTask(t, a, b, task.ID)
	first := startWorkerNode(t, rs.URL())
	eventually(t, "the task to be under way", func() bool { return getTask(t, b, task.ID).Done >= 3 })
	first.kill()
	killed := time.Now()
	if got := getTask(t, a, task.ID); got.Status != tasks.StatusRunning {
		t.Fatalf("after the kill the task is %+v, want running", got)
	}
	startWorkerNode(t, rs.URL())
	final := sameTaskStream(t, ws(), sse())
	t.Logf("completed %v after the kill", time.Since(killed).Round(time.Second))
	if final.Status != tasks.StatusCompleted || final.Done != 30 || final.Attempts != 2 {
		t.Fatalf("final state %+v, want completed at the 2nd attempt", final)
	}
}

// openSSELong opens an SSE stream without openSSE's one-minute bound: it
// lasts until the test ends.
func openSSELong(t *testing.T, ts *testServer, path string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ts.streamClient().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseConn{t: t, res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c
}

// With Redis down the task API answers 503 unavailable with Retry-After,
// and works again once Redis is back (here empty: it kept no data).
func TestTasksRedisDown(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	n := start(t, server.Config{Redis: []string{rs.URL()}})
	var task tasks.Task
	n.do("POST", "/api/tasks", `{"files":1,"step_ms":0}`).decode(t, &task)
	rs.Stop()
	for _, r := range []response{
		n.do("POST", "/api/tasks", `{"files":1,"step_ms":0}`),
		n.do("GET", "/api/tasks/"+task.ID, ""),
		n.do("GET", "/api/tasks", ""),
	} {
		r.errorFrame(t, http.StatusServiceUnavailable, transports.CodeUnavailable)
		if r.header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	rs.Start() // empty: it had no persistence
	eventually(t, "the task API back", func() bool {
		return n.do("GET", "/api/tasks/"+task.ID, "").status == http.StatusNotFound
	})
	if r := n.do("POST", "/api/tasks", `{"files":1,"step_ms":0}`); r.status != http.StatusCreated {
		t.Fatalf("POST /api/tasks with Redis back: %d %s", r.status, r.body)
	}
	// go-redis probes a Redis that refused too many dials from a goroutine
	// of its own, once a second, until a dial succeeds: let it see Redis back.
	eventually(t, "go-redis's dial prober to stop", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "(*ConnPool).tryDial")
	})
}

func getTask(t *testing.T, ts *testServer, id string) tasks.Task {
	t.Helper()
	var got tasks.Task
	ts.do("GET", "/api/tasks/"+id, "").decode(t, &got)
	return got
}

// grep returns the lines of s containing sub.
func grep(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}
