package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
)

func TestTaskAPI(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	res := ts.do("POST", "/api/tasks", `{"files":3,"step_ms":1}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var created tasks.Task
	res.decode(t, &created)
	if created.ID == "" || created.Status != tasks.StatusQueued || created.Files != 3 || created.StepMS != 1 {
		t.Fatalf("created %+v", created)
	}
	if loc := res.header.Get("Location"); loc != "/api/tasks/"+created.ID {
		t.Errorf("Location %q", loc)
	}
	var got tasks.Task
	eventually(t, "task completion", func() bool {
		r := ts.do("GET", "/api/tasks/"+created.ID, "")
		if r.status != http.StatusOK {
			t.Fatalf("get: %d %s", r.status, r.body)
		}
		r.decode(t, &got)
		return got.Status.Terminal()
	})
	if got.Status != tasks.StatusCompleted || got.Progress != 100 || got.Result == nil || got.Result.Processed != 3 {
		t.Fatalf("final %+v", got)
	}
	failing := ts.do("POST", "/api/tasks", `{"files":3,"step_ms":0,"fail_at":2}`)
	var f tasks.Task
	failing.decode(t, &f)
	eventually(t, "failure", func() bool {
		ts.do("GET", "/api/tasks/"+f.ID, "").decode(t, &f)
		return f.Status.Terminal()
	})
	if f.Status != tasks.StatusFailed || f.Error != "file 2/3 failed" {
		t.Fatalf("failing task %+v", f)
	}

	var list struct{ Tasks []tasks.Task }
	ts.do("GET", "/api/tasks", "").decode(t, &list)
	if len(list.Tasks) != 2 || list.Tasks[0].ID != f.ID || list.Tasks[1].ID != created.ID {
		t.Fatalf("list %+v", list)
	}
	ts.do("GET", "/api/tasks?status=completed&limit=10", "").decode(t, &list)
	if len(list.Tasks) != 1 || list.Tasks[0].ID != created.ID {
		t.Fatalf("completed list %+v", list)
	}
	ts.do("GET", "/api/tasks?limit=1", "").decode(t, &list)
	if len(list.Tasks) != 1 || list.Tasks[0].ID != f.ID {
		t.Fatalf("limit 1 list %+v", list)
	}
}

// TestAPIValidation: every API input error is a 400 (or 413/404/405) JSON
// ErrorFrame with per-field details.
func TestAPIValidation(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{MaxBody: 1024})
	big := `{"files":1,"pad":"` + strings.Repeat("x", 1100) + `"}`
	tests := []struct {
		method, path, body string
		status             int
		code               string
		fields             []string
	}{
		{"POST", "/api/tasks", ``, 400, "invalid_json", nil},
		{"POST", "/api/tasks", `{"files":`, 400, "invalid_json", nil},
		{"POST", "/api/tasks", `[1,2]`, 400, "invalid_message", nil},
		{"POST", "/api/tasks", `{}`, 400, "invalid_message", []string{"files"}},
		{"POST", "/api/tasks", `{"files":0,"step_ms":-1,"fail_at":"x"}`, 400, "invalid_message", []string{"files", "step_ms", "fail_at"}},
		{"POST", "/api/tasks", `{"files":10001}`, 400, "invalid_message", []string{"files"}},
		{"POST", "/api/tasks", `{"files":2,"fail_at":3}`, 400, "invalid_message", []string{"fail_at"}},
		{"POST", "/api/tasks", `{"files":2,"extra":1}`, 400, "invalid_message", []string{"extra"}},
		{"POST", "/api/tasks", big, 413, "message_too_big", nil},
		{"GET", "/api/tasks?status=done&limit=0&page=2", ``, 400, "invalid_message", []string{"status", "limit", "page"}},
		{"GET", "/api/tasks/0123456789abcdef", ``, 404, "not_found", nil},
		{"GET", "/api/nothing", ``, 404, "not_found", nil},
		{"POST", "/api/nothing", `{}`, 404, "not_found", nil},
		{"GET", "/ws/tasks", ``, 404, "not_found", nil},
		{"DELETE", "/api/tasks", ``, 405, "invalid_message", nil},
		{"POST", "/healthz", ``, 405, "invalid_message", nil},

		{"POST", "/api/messages", `{"type":"broadcast","message":"hi"}`, 400, "invalid_message", []string{"client_id"}},
		{"POST", "/api/messages?client_id=bad%20id", `{"type":"broadcast","message":"hi"}`, 400, "invalid_message", []string{"client_id"}},
		{"POST", "/api/messages?client_id=carol", `not json`, 400, "invalid_json", nil},
		{"POST", "/api/messages?client_id=carol", `{"type":"subscribe","topic":"news"}`, 400, "invalid_message", []string{"type"}},
		{"POST", "/api/messages?client_id=carol", `{"type":"shout","message":"hi"}`, 400, "invalid_message", []string{"type"}},
		{"POST", "/api/messages?client_id=carol", `{"type":"personal","message":"hi"}`, 400, "invalid_message", []string{"to"}},
		{"POST", "/api/messages?client_id=carol", `{"type":"broadcast","message":""}`, 400, "invalid_message", []string{"message"}},
		{"POST", "/api/messages?client_id=carol", big, 413, "message_too_big", nil},

		{"POST", "/api/topics/news/events", `{"data":{}}`, 400, "invalid_message", []string{"event"}},
		{"POST", "/api/topics/news/events", `{"event":"tick","data":[1]}`, 400, "invalid_message", []string{"data"}},
		{"POST", "/api/topics/news/events", `{"event":"bad kind","x":1}`, 400, "invalid_message", []string{"event", "x"}},
		{"POST", "/api/topics/news/events", `{"event":"snapshot"}`, 400, "invalid_message", []string{"event"}},
		{"POST", "/api/topics/news/events", `{"event":"reset"}`, 400, "invalid_message", []string{"event"}},
		{"POST", "/api/topics/news/events", `{"event":7}`, 400, "invalid_message", []string{"event"}},
		{"POST", "/api/topics/news/events", `{"event":"tick"`, 400, "invalid_json", nil},
		{"POST", "/api/topics/bad%20topic/events", `{"event":"tick"}`, 400, "invalid_message", []string{"topic"}},
		{"POST", "/api/topics/task:abc/events", `{"event":"completed"}`, 403, "forbidden", nil},
		{"POST", "/api/topics/news/events", big, 413, "message_too_big", nil},
		{"POST", "/api/admin/drop?transport=carrier-pigeon", ``, 400, "invalid_message", []string{"transport"}},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s %.30s", tt.method, tt.path, tt.body)
		t.Run(name, func(t *testing.T) {
			res := ts.do(tt.method, tt.path, tt.body)
			f := res.errorFrame(t, tt.status, tt.code)
			if len(f.Fields) != len(tt.fields) {
				t.Errorf("fields %v, want %v", f.Fields, tt.fields)
			}
			for _, k := range tt.fields {
				if f.Fields[k] == "" {
					t.Errorf("no field %q in %v", k, f.Fields)
				}
			}
			if tt.status == 405 && res.header.Get("Allow") == "" {
				t.Error("405 without Allow header")
			}
		})
	}
	if st := ts.Runner().Stats(); st.Submitted != 0 {
		t.Fatalf("invalid requests created %d tasks", st.Submitted)
	}
}

func TestTaskQueueFull(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Workers: 1, TaskQueue: 1})
	long := `{"files":1,"step_ms":60000}`
	var last response
	for range 3 { // one runs, one waits, the third at the latest is refused
		if last = ts.do("POST", "/api/tasks", long); last.status != http.StatusCreated {
			break
		}
	}
	last.errorFrame(t, http.StatusServiceUnavailable, "unavailable")
	if last.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

func TestPublishEvent(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	for want := uint64(1); want <= 3; want++ {
		res := ts.do("POST", "/api/topics/news.eu/events", "{\"event\":\"tick\",\n \"data\":{\"n\": 1}}")
		if res.status != http.StatusCreated {
			t.Fatalf("publish: %d %s", res.status, res.body)
		}
		var pr server.PublishResult
		res.decode(t, &pr)
		if pr.Topic != "news.eu" || pr.Seq != want || pr.Event != "tick" || pr.TS <= 0 {
			t.Fatalf("publish result %+v, want seq %d", pr, want)
		}
	}
	e := ts.Hub().Latest("news.eu")
	if e == nil || string(e.Data) != `{"n":1}` {
		t.Fatalf("latest event %+v: data must be compacted to one line", e)
	}
	// data is optional.
	res := ts.do("POST", "/api/topics/broadcast/events", `{"event":"hello"}`)
	if res.status != http.StatusCreated {
		t.Fatalf("publish without data: %d %s", res.status, res.body)
	}
	if e := ts.Hub().Latest("broadcast"); e == nil || string(e.Data) != `{}` {
		t.Fatalf("latest broadcast %+v", e)
	}
}

func TestHealthzStatsAndPage(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{MaxConns: 7, MaxConnsPerIP: 3})
	var h map[string]string
	ts.do("GET", "/healthz", "").decode(t, &h)
	if h["status"] != "ok" {
		t.Fatalf("healthz %v", h)
	}
	ts.do("POST", "/api/tasks", `{"files":1,"step_ms":0}`)
	var m server.Metrics
	ts.do("GET", "/api/stats", "").decode(t, &m)
	if m.Goroutines < 1 || m.TS <= 0 || m.Limiter.Max != 7 || m.Limiter.PerIP != 3 || m.Tasks.Submitted != 1 {
		t.Fatalf("metrics %+v", m)
	}
	for _, k := range []string{"ws", "sse", "total"} {
		if _, ok := m.Connections[k]; !ok {
			t.Errorf("metrics connections lack %q: %v", k, m.Connections)
		}
	}
	if m.RSSBytes <= 0 || m.CPU.TotalS <= 0 || m.HeapBytes == 0 || m.StacksBytes == 0 || m.AllocsObjects == 0 {
		t.Errorf("process metrics missing: rss %d cpu %+v heap %d stacks %d allocs %d", m.RSSBytes, m.CPU, m.HeapBytes, m.StacksBytes, m.AllocsObjects)
	}
	// The JSON names the load generator reads.
	raw := string(ts.do("GET", "/api/stats", "").body)
	for _, k := range []string{`"allocs_objects":`, `"stacks_bytes":`, `"heap_bytes":`, `"rss_bytes":`} {
		if !strings.Contains(raw, k) {
			t.Errorf("/api/stats lacks %s: %s", k, raw)
		}
	}
	page := ts.do("GET", "/", "")
	if page.status != http.StatusOK || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", page.status, page.header.Get("Content-Type"))
	}
}
