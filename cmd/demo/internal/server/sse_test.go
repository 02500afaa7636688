package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// createTask posts a task and returns it.
func (ts *testServer) createTask(spec string) tasks.Task {
	ts.t.Helper()
	res := ts.do("POST", "/api/tasks", spec)
	if res.status != http.StatusCreated {
		ts.t.Fatalf("create task %s: %d %s", spec, res.status, res.body)
	}
	var task tasks.Task
	res.decode(ts.t, &task)
	return task
}

// waitTask waits until the task is terminal.
func (ts *testServer) waitTask(id string) tasks.Task {
	ts.t.Helper()
	var task tasks.Task
	eventually(ts.t, "task "+id+" to finish", func() bool {
		ts.do("GET", "/api/tasks/"+id, "").decode(ts.t, &task)
		// The store is updated just before the terminal event is
		// published: wait for both.
		last := ts.Hub().Latest(tasks.Topic(id))
		return task.Status.Terminal() && last != nil && taskstream.IsTerminal(last.Kind)
	})
	return task
}

func taskState(t *testing.T, e transports.WireEvent) tasks.Task {
	t.Helper()
	var task tasks.Task
	if err := jsonUnmarshal(e.Data, &task); err != nil {
		t.Fatalf("event %d data: %v", e.Seq, err)
	}
	return task
}

// checkTaskStream asserts the shape of a whole task stream: a snapshot
// first, then contiguous seqs after it, the terminal event last.
func checkTaskStream(t *testing.T, evs []transports.WireEvent, topic string) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	if evs[0].Event != transports.KindSnapshot {
		t.Fatalf("first event %q, want snapshot", evs[0].Event)
	}
	for i, e := range evs {
		if e.Topic != topic {
			t.Fatalf("event %d topic %q", i, e.Topic)
		}
		if i > 0 && e.Seq != evs[i-1].Seq+1 {
			t.Fatalf("seq %d after %d: gap or duplicate", e.Seq, evs[i-1].Seq)
		}
		if i > 0 && i < len(evs)-1 && taskstream.IsTerminal(e.Event) {
			t.Fatalf("terminal event %d before the end", e.Seq)
		}
	}
	if last := taskState(t, evs[len(evs)-1]); !last.Status.Terminal() {
		t.Fatalf("last event %+v is not terminal", last)
	}
}

func TestSSETaskStream(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":8,"step_ms":20}`)
	c := ts.openSSE("/sse/tasks/" + task.ID).expectStream()
	frames := c.events()
	evs := make([]transports.WireEvent, len(frames))
	for i, f := range frames {
		evs[i] = f.event(t)
		if f.id != strconv.FormatUint(evs[i].Seq, 10) {
			t.Fatalf("frame id %q for seq %d: single-topic ids are the bare seq", f.id, evs[i].Seq)
		}
	}
	checkTaskStream(t, evs, tasks.Topic(task.ID))
	last := evs[len(evs)-1]
	if last.Event != taskstream.KindCompleted || last.Seq != 10 {
		t.Fatalf("last event %s seq %d, want completed seq 10", last.Event, last.Seq)
	}

	// A reconnect that has seen the end gets 204, so EventSource stops.
	for _, h := range []string{"Last-Event-ID: 10", ""} {
		path := "/sse/tasks/" + task.ID
		if h == "" {
			path += "?last_event_id=10"
		}
		again := ts.openSSE(path, h)
		if again.res.StatusCode != http.StatusNoContent {
			t.Fatalf("reconnect after the end (%q): %d, want 204", h+path, again.res.StatusCode)
		}
	}
	// A fresh subscriber to a finished task gets its final state and the end.
	fresh := ts.openSSE("/sse/tasks/" + task.ID).expectStream().events()
	if len(fresh) != 1 || fresh[0].event(t).Event != transports.KindSnapshot || fresh[0].id != "10" ||
		taskState(t, fresh[0].event(t)).Status != tasks.StatusCompleted {
		t.Fatalf("finished task stream %+v", fresh)
	}
}

// TestSSEResumeMidTask drops a connection mid-task and resumes it with
// Last-Event-ID: no gap, no duplicate.
func TestSSEResumeMidTask(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":30,"step_ms":15}`)
	path := "/sse/tasks/" + task.ID
	c := ts.openSSE(path).expectStream()
	var evs []transports.WireEvent
	for len(evs) < 3 {
		evs = append(evs, c.nextEvent().event(t))
	}
	c.close()
	seen := evs[len(evs)-1].Seq
	eventually(t, "more events while disconnected", func() bool {
		e := ts.Hub().Latest(tasks.Topic(task.ID))
		return e != nil && e.Seq >= seen+2
	})
	again := ts.openSSE(path, "Last-Event-ID: "+strconv.FormatUint(seen, 10)).expectStream()
	for _, f := range again.events() {
		evs = append(evs, f.event(t))
	}
	checkTaskStream(t, evs, tasks.Topic(task.ID))
	if evs[len(evs)-1].Seq != 32 {
		t.Fatalf("stream ended at seq %d, want 32", evs[len(evs)-1].Seq)
	}
}

// TestSSEResetOnExpiredHistory: a cursor older than the history yields a
// reset event, then (task) a snapshot, or (other topic) the retained events.
func TestSSEResetOnExpiredHistory(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{History: 5})
	task := ts.createTask(`{"files":20,"step_ms":0}`)
	ts.waitTask(task.ID)
	frames := ts.openSSE("/sse/tasks/"+task.ID, "Last-Event-ID: 2").expectStream().events()
	if len(frames) != 2 {
		t.Fatalf("got %d events, want reset + snapshot: %+v", len(frames), frames)
	}
	reset, snap := frames[0].event(t), frames[1].event(t)
	var rd transports.ResetData
	if err := jsonUnmarshal(reset.Data, &rd); err != nil {
		t.Fatal(err)
	}
	if reset.Event != transports.KindReset || rd.Reason != transports.ResetHistoryExpired || rd.Cursor != 2 ||
		rd.LostFrom != 3 || rd.LostTo != 17 || rd.FirstAvailable != 18 || rd.Latest != 22 {
		t.Fatalf("reset %s %+v", reset.Event, rd)
	}
	if snap.Event != transports.KindSnapshot || snap.Seq != 22 || frames[1].id != "22" || taskState(t, snap).Status != tasks.StatusCompleted {
		t.Fatalf("snapshot %+v", snap)
	}

	for range 10 {
		ts.do("POST", "/api/topics/news/events", `{"event":"tick"}`)
	}
	c := ts.openSSE("/sse?topic=news&last_event_id=news=2").expectStream()
	first := c.nextEvent().event(t)
	if first.Event != transports.KindReset || first.Seq != 5 {
		t.Fatalf("first event %s seq %d, want reset with seq 5 (the new cursor)", first.Event, first.Seq)
	}
	for want := uint64(6); want <= 10; want++ {
		f := c.nextEvent()
		// One topic, no client id: a single-topic stream, bare seq ids.
		if e := f.event(t); e.Seq != want || e.Event != "tick" || f.id != strconv.FormatUint(want, 10) {
			t.Fatalf("event %+v id %q, want tick seq %d", e, f.id, want)
		}
	}
}

func TestSSEErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":1,"step_ms":0}`)
	tests := []struct {
		path, header string
		status       int
		code         string
	}{
		{"/sse/tasks/0123456789abcdef", "", 404, "not_found"},
		{"/sse/tasks/no%20such", "", 404, "not_found"},
		{"/sse/tasks/" + task.ID, "Last-Event-ID: x", 400, "invalid_message"},
		{"/sse/tasks/" + task.ID + "?last_event_id=-1", "", 400, "invalid_message"},
		{"/sse", "", 400, "invalid_message"},
		{"/sse?client_id=bad%20id", "", 400, "invalid_message"},
		{"/sse?client_id=alice&topic=client:bob", "", 400, "invalid_message"},
	}
	for _, tt := range tests {
		c := ts.openSSE(tt.path, tt.header)
		b := make([]byte, 4096)
		n, _ := c.res.Body.Read(b)
		res := response{status: c.res.StatusCode, header: c.res.Header, body: b[:n]}
		t.Run(tt.path, func(t *testing.T) { res.errorFrame(t, tt.status, tt.code) })
	}
}

// TestSSEUnbufferedThroughEcho guards two traps: middleware that buffers
// (gzip) or breaks flushing (Echo's Timeout) would hold a frame back until
// the stream ends, and a server-wide http.Server.WriteTimeout would cut the
// stream once it expired. The stream below stays open well past the
// server's WriteTimeout and every frame must arrive while it is open.
func TestSSEUnbufferedThroughEcho(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{HTTPWriteTimeout: 200 * time.Millisecond, Heartbeat: time.Hour, IdleTimeout: 2 * time.Hour})
	c := ts.openSSE("/sse?topic=news", "Accept-Encoding: gzip").expectStream()
	if ce := c.res.Header.Get("Content-Encoding"); ce != "" {
		t.Fatalf("stream Content-Encoding %q", ce)
	}
	for i := 1; i <= 3; i++ {
		if i > 1 {
			time.Sleep(250 * time.Millisecond) // past the server's WriteTimeout
		}
		ts.do("POST", "/api/topics/news/events", fmt.Sprintf(`{"event":"tick","data":{"i":%d}}`, i))
		// The frame must arrive while the stream is still open (it never
		// ends by itself); a buffered one would only come at the end.
		f := c.nextEvent()
		if e := f.event(t); e.Seq != uint64(i) || string(e.Data) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Fatalf("event %+v, want seq %d", e, i)
		}
	}
}

func TestSSEMessages(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	alice := ts.openSSE("/sse?client_id=alice").expectStream()
	bob := ts.openSSE("/sse?client_id=bob").expectStream()
	// alice sees bob join.
	if e := alice.nextEvent().event(t); e.Event != chat.KindJoin || e.Topic != "broadcast" || !strings.Contains(string(e.Data), `"bob"`) {
		t.Fatalf("alice got %+v, want bob's join", e)
	}
	post := func(from, body string) transports.ControlFrame {
		t.Helper()
		res := ts.do("POST", "/api/messages?client_id="+from, body)
		if res.status != http.StatusAccepted {
			t.Fatalf("post %s: %d %s", body, res.status, res.body)
		}
		var ack transports.ControlFrame
		res.decode(t, &ack)
		return ack
	}
	message := func(c *sseConn) (string, chat.Message) {
		t.Helper()
		e := c.nextEvent().event(t)
		var m chat.Message
		if e.Event != chat.KindMessage || jsonUnmarshal(e.Data, &m) != nil {
			t.Fatalf("got %+v, want a message", e)
		}
		return e.Topic, m
	}
	if ack := post("carol", `{"type":"personal","to":"bob","message":"psst","id":"m1"}`); ack.Type != "ack" || ack.ID != "m1" || ack.Topic != "client:bob" || ack.Size != 1 {
		t.Fatalf("ack %+v", ack)
	}
	if topic, m := message(bob); topic != "client:bob" || m != (chat.Message{From: "carol", Message: "psst"}) {
		t.Fatalf("bob got %s %+v", topic, m)
	}
	post("carol", `{"type":"broadcast","message":"hello all"}`)
	for _, c := range []*sseConn{alice, bob} {
		if topic, m := message(c); topic != "broadcast" || m.Message != "hello all" {
			t.Fatalf("got %s %+v", topic, m)
		}
	}
	// broadcast_except from alice skips alice's connections: the next thing
	// alice gets is the broadcast after it.
	if ack := post("alice", `{"type":"broadcast_except","message":"not for alice"}`); ack.Size != 1 {
		t.Fatalf("broadcast_except queued for %d, want 1", ack.Size)
	}
	post("carol", `{"type":"broadcast","message":"marker"}`)
	if _, m := message(bob); m.Message != "not for alice" || m.From != "alice" {
		t.Fatalf("bob got %+v", m)
	}
	if _, m := message(alice); m.Message != "marker" {
		t.Fatalf("alice got %+v, want the marker (broadcast_except must skip her)", m)
	}
	// bob leaves: alice sees it.
	bob.close()
	eventually(t, "bob's leave", func() bool { return ts.Hub().Online("bob") == 0 })
	for {
		e := alice.nextEvent().event(t)
		if e.Event == chat.KindLeave {
			if !strings.Contains(string(e.Data), `"bob"`) {
				t.Fatalf("leave %s", e.Data)
			}
			break
		}
	}
}

// TestFinishedTaskWithoutTopic: a finished task whose topic the hub has
// forgotten (idle topics expire) still streams its final state and ends,
// instead of leaving the client waiting forever.
func TestFinishedTaskWithoutTopic(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	now := time.Now().UTC()
	old := tasks.Task{ID: "00000000000000aa", Status: tasks.StatusCompleted, Progress: 100, Message: "completed 2 files",
		Done: 2, Files: 2, Result: &tasks.Result{Processed: 2}, CreatedAt: now, UpdatedAt: now}
	if err := ts.Runner().Store().Put(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	frames := ts.openSSE("/sse/tasks/" + old.ID).expectStream().events()
	if len(frames) != 1 {
		t.Fatalf("got %d events, want the final snapshot", len(frames))
	}
	if e := frames[0].event(t); e.Event != transports.KindSnapshot || string(e.Data) != string(old.JSON()) {
		t.Fatalf("snapshot %s %s", e.Event, e.Data)
	}
	raw, status := ts.dialWS("/ws/tasks/" + old.ID).untilClose()
	if len(raw) != 1 || status != websocket.StatusNormalClosure || string(raw[0]) != frames[0].data {
		t.Fatalf("ws: %q close %v", raw, status)
	}
}
