package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// tasks: the seed workload. T tasks are created with POST /api/tasks at
// once; W clients per task watch each one's stream (/ws/tasks/:id or
// /sse/tasks/:id) until it ends. Measures POST → terminal event per
// watcher, and checks that every watcher of a task saw the same final
// event and that it matches the task's status from GET /api/tasks/:id.
func (r *Runner) tasks(ctx context.Context, res *Result) error {
	// Enough task workers that the tasks really run concurrently.
	r.scenarioSrv = []string{"--workers", strconv.Itoa(max(8, r.Config.Tasks))}
	defer func() { r.scenarioSrv = nil }()
	return r.eachTransport(ctx, res, r.tasksOne)
}

type createdTask struct {
	id     string
	target int
	posted time.Time
}

func (r *Runner) tasksOne(ctx context.Context, ts []*target, transport string) (*TransportResult, error) {
	c := r.Config
	label := fmt.Sprintf("tasks %s %dx%d", transport, c.Tasks, c.Watchers)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	created, err := createTasks(ctx, client, ts, c.Tasks, c.TaskFiles, c.TaskStepMS)
	if err != nil {
		return nil, err
	}
	streams := make([]StreamSpec, len(created))
	for i, t := range created {
		streams[i] = StreamSpec{Path: "/" + transport + "/tasks/" + t.id, Topics: []string{taskstream.Topic(t.id)}, Target: t.target}
	}
	n := c.Tasks * c.Watchers
	specs := r.specs(transport, ts, streams, n, func(s *WorkerSpec) { s.PinnedStreams = true })
	ph, err := r.startPhase(ctx, label, ts, specs)
	if err != nil {
		return nil, err
	}
	defer ph.close()
	ph.mu.Lock()
	ph.status = func() string { return fmt.Sprintf("streams ended %d/%d", ph.totalsLocked().Ended, n) }
	ph.mu.Unlock()
	start := time.Now()
	// Wait for every stream to end: the task's run time plus a margin.
	expect := time.Duration(c.TaskFiles*c.TaskStepMS)*time.Millisecond*time.Duration(1+c.Tasks/8) + r.connectTimeout(n)
	ph.waitFor(ctx, expect, func(p Progress) bool { return p.Ended+p.Failed >= n })
	results, ferr := ph.finish(nil, 0)
	tr, merr := ph.merge(results)
	tr.Server = serverInfo(ts)
	end := lastDelivery(results, start)
	tr.DurationS = round3(end.Sub(start).Seconds())
	if tr.DurationS > 0 {
		tr.DeliveriesPerS = round3(float64(tr.Delivered) / tr.DurationS)
	}
	status := fetchStatuses(ctx, client, ts, created)
	tr.Tasks = judgeTasks(results, created, status, c.Watchers)
	return tr, cmpErr(ferr, merr)
}

// createTasks posts n tasks, spread over the targets, 16 at a time.
func createTasks(ctx context.Context, client *http.Client, ts []*target, n, files, stepMS int) ([]createdTask, error) {
	out := make([]createdTask, n)
	body, _ := json.Marshal(map[string]int{"files": files, "step_ms": stepMS})
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, 16)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ti := i % len(ts)
			posted := time.Now()
			id, err := postTask(ctx, client, ts[ti].url, body)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				first = cmpErr(first, err)
				return
			}
			out[i] = createdTask{id: id, target: ti, posted: posted}
		})
	}
	wg.Wait()
	return out, first
}

func postTask(ctx context.Context, client *http.Client, base string, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/tasks", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("bench: POST /api/tasks: %s: %s", resp.Status, b)
	}
	var t struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &t); err != nil || t.ID == "" {
		return "", fmt.Errorf("bench: POST /api/tasks: no id in %s", b)
	}
	return t.ID, nil
}

// fetchStatuses reads each task's status (GET /api/tasks/:id).
func fetchStatuses(ctx context.Context, client *http.Client, ts []*target, created []createdTask) []string {
	out := make([]string, len(created))
	for i, t := range created {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts[t.target].url+"/api/tasks/"+t.id, nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		var v struct {
			Status string `json:"status"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		out[i] = v.Status
	}
	return out
}

// judgeTasks checks the watchers' final events against each other and the
// task's status, and times POST → terminal event.
func judgeTasks(results []*WorkerResult, created []createdTask, status []string, watchers int) *TasksResult {
	tr := &TasksResult{Tasks: len(created), Watchers: watchers, Consistent: true}
	byTask := make([][]Final, len(created))
	for _, w := range results {
		for _, f := range w.Finals {
			if f.Stream >= 0 && f.Stream < len(byTask) {
				byTask[f.Stream] = append(byTask[f.Stream], f)
			}
		}
	}
	e2e := NewHist()
	for i, finals := range byTask {
		var ref *Final
		var refKind string
		for j := range finals {
			f := &finals[j]
			// A snapshot of a finished task is its terminal state, with the
			// terminal event's seq and data: compared as that kind.
			kind := f.Terminal()
			if kind == "" { // no terminal state, whether the stream ended or not
				tr.Unfinished++
				continue
			}
			if kind == taskstream.KindCompleted {
				tr.Completed++
			} else {
				tr.Failed++
			}
			_ = e2e.RecordValue(clampMicros((f.AtNS - created[i].posted.UnixNano()) / 1000))
			if i < len(status) && status[i] != "" && status[i] != kind {
				tr.Mismatches++
			}
			if ref == nil {
				ref, refKind = f, kind
			} else if kind != refKind || f.Seq != ref.Seq || f.Data != ref.Data {
				tr.Mismatches++
			}
		}
	}
	tr.Consistent = tr.Mismatches == 0 && tr.Unfinished == 0
	tr.EndToEndMS = PercentilesOf(e2e)
	return tr
}

// Terminal is the terminal state the client ended with, or "" if none:
// its last event's kind when that is completed or failed, or the status of
// a snapshot of a finished task. A watcher that connects after the task
// ended gets exactly that snapshot (the terminal event's seq and data)
// and then the end of the stream.
func (f Final) Terminal() string {
	switch {
	case taskstream.IsTerminal(f.Kind):
		return f.Kind
	case f.Kind == transports.KindSnapshot && taskstream.IsTerminal(f.Status):
		return f.Status
	}
	return ""
}
