package server_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

func TestWSTaskStream(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":8,"step_ms":20}`)
	raw, status := ts.dialWS("/ws/tasks/" + task.ID).untilClose()
	if status != websocket.StatusNormalClosure {
		t.Fatalf("close %v, want 1000", status)
	}
	evs := make([]transports.WireEvent, len(raw))
	for i, b := range raw {
		evs[i] = wireEvent(t, b)
	}
	checkTaskStream(t, evs, tasks.Topic(task.ID))
	if last := evs[len(evs)-1]; last.Event != taskstream.KindCompleted || last.Seq != 10 {
		t.Fatalf("last %s %d", last.Event, last.Seq)
	}
	// A reconnect that has seen the end closes 1000 at once; a fresh one
	// gets the final snapshot, then 1000.
	if raw, status := ts.dialWS("/ws/tasks/" + task.ID + "?last_event_id=10").untilClose(); len(raw) != 0 || status != websocket.StatusNormalClosure {
		t.Fatalf("reconnect after the end: %d events, close %v", len(raw), status)
	}
	raw, status = ts.dialWS("/ws/tasks/" + task.ID).untilClose()
	if len(raw) != 1 || status != websocket.StatusNormalClosure {
		t.Fatalf("finished task: %d events, close %v", len(raw), status)
	}
	if e := wireEvent(t, raw[0]); e.Event != transports.KindSnapshot || e.Seq != 10 || taskState(t, e).Status != tasks.StatusCompleted {
		t.Fatalf("finished task snapshot %+v", e)
	}
}

// TestWSTaskErrors: an unknown task gets an error frame and close 4004; a
// bad cursor an error frame and 4400.
func TestWSTaskErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":1,"step_ms":0}`)
	tests := []struct {
		path   string
		code   string
		status websocket.StatusCode
	}{
		{"/ws/tasks/0123456789abcdef", "not_found", 4004},
		{"/ws/tasks/no%20such", "not_found", 4004},
		{"/ws/tasks/" + task.ID + "?last_event_id=x", "invalid_message", 4400},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			c := ts.dialWS(tt.path)
			b := c.nextControl()
			var f transports.ErrorFrame
			if err := jsonUnmarshal(b, &f); err != nil || f.Type != "error" || f.Code != tt.code {
				t.Fatalf("frame %s, want error %s", b, tt.code)
			}
			if ce := c.closeReason(); ce.Code != tt.status {
				t.Fatalf("close %v, want %v", ce.Code, tt.status)
			}
		})
	}
	// A bad multi-topic connect request is refused before the upgrade.
	_, res, err := ts.tryDialWS("/ws?client_id=bad%20id")
	if err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad connect: %v %v", err, res)
	}
}

func TestWSResumeMidTask(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":30,"step_ms":15}`)
	c := ts.dialWS("/ws/tasks/" + task.ID)
	var evs []transports.WireEvent
	for len(evs) < 3 {
		evs = append(evs, wireEvent(t, c.nextEvent()))
	}
	_ = c.c.CloseNow() // the client drops
	seen := evs[len(evs)-1].Seq
	eventually(t, "more events while disconnected", func() bool {
		e := ts.Hub().Latest(tasks.Topic(task.ID))
		return e != nil && e.Seq >= seen+2
	})
	raw, status := ts.dialWS("/ws/tasks/" + task.ID + "?last_event_id=" + strconv.FormatUint(seen, 10)).untilClose()
	if status != websocket.StatusNormalClosure {
		t.Fatalf("close %v", status)
	}
	for _, b := range raw {
		evs = append(evs, wireEvent(t, b))
	}
	checkTaskStream(t, evs, tasks.Topic(task.ID))
	if evs[len(evs)-1].Seq != 32 {
		t.Fatalf("ended at %d, want 32", evs[len(evs)-1].Seq)
	}
}

func TestWSResetOnExpiredHistory(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{History: 5})
	task := ts.createTask(`{"files":20,"step_ms":0}`)
	ts.waitTask(task.ID)
	raw, status := ts.dialWS("/ws/tasks/" + task.ID + "?last_event_id=2").untilClose()
	if len(raw) != 2 || status != websocket.StatusNormalClosure {
		t.Fatalf("%d events, close %v; want reset + snapshot, 1000", len(raw), status)
	}
	reset, snap := wireEvent(t, raw[0]), wireEvent(t, raw[1])
	if reset.Event != transports.KindReset || reset.Seq != 17 || snap.Event != transports.KindSnapshot || snap.Seq != 22 {
		t.Fatalf("got %s %d, %s %d", reset.Event, reset.Seq, snap.Event, snap.Seq)
	}

	// A multi-topic subscribe with an expired last_seq: reset, then history.
	for range 10 {
		ts.do("POST", "/api/topics/news/events", `{"event":"tick"}`)
	}
	c := ts.dialWS("/ws")
	c.send(`{"type":"subscribe","topic":"news","last_seq":2,"id":"s1"}`)
	if b := c.nextControl(); !strings.Contains(string(b), `"subscribed"`) || !strings.Contains(string(b), `"s1"`) {
		t.Fatalf("ack %s", b)
	}
	if e := wireEvent(t, c.nextEvent()); e.Event != transports.KindReset || e.Seq != 5 {
		t.Fatalf("first %s %d, want reset 5", e.Event, e.Seq)
	}
	for want := uint64(6); want <= 10; want++ {
		if e := wireEvent(t, c.nextEvent()); e.Seq != want {
			t.Fatalf("seq %d, want %d", e.Seq, want)
		}
	}
}

// TestWSValidation: bad commands get error frames and the connection stays;
// a frame over the read limit closes with 1009.
func TestWSValidation(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{ReadLimit: 1024})
	c := ts.dialWS("/ws?client_id=alice").attached(2) // client:alice and broadcast
	tests := []struct{ cmd, code, field string }{
		{`{"type":`, "invalid_json", ""},
		{`[]`, "invalid_message", ""},
		{`{"type":"shout"}`, "invalid_message", "type"},
		{`{"type":"subscribe"}`, "invalid_message", "topic"},
		{`{"type":"personal","message":"hi"}`, "invalid_message", "to"},
		{`{"type":"subscribe","topic":"client:bob"}`, "forbidden", ""},
		{`{"type":"unsubscribe","topic":"news"}`, "not_subscribed", ""},
	}
	for _, tt := range tests {
		c.send(tt.cmd)
		var f transports.ErrorFrame
		if b := c.nextControl(); jsonUnmarshal(b, &f) != nil || f.Code != tt.code || (tt.field != "" && f.Fields[tt.field] == "") {
			t.Fatalf("%s → %s, want %s on %q", tt.cmd, b, tt.code, tt.field)
		}
	}
	c.send(`{"type":"ping","ts":42}`)
	if b := c.nextControl(); !strings.Contains(string(b), `"pong"`) || !strings.Contains(string(b), `42`) {
		t.Fatalf("ping → %s, want pong (the connection stays after errors)", b)
	}
	c.send(`{"type":"broadcast","message":"` + strings.Repeat("x", 2048) + `"}`)
	if ce := c.closeReason(); ce.Code != websocket.StatusMessageTooBig {
		t.Fatalf("close %v, want 1009", ce.Code)
	}
}

// TestWSOrigin: a foreign Origin is refused with 403 unless allowed.
func TestWSOrigin(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	_, res, err := ts.tryDialWS("/ws", "Origin: https://evil.example")
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v, want 403", err, res)
	}
	ts.dialWS("/ws", "Origin: "+ts.url) // same host
	allowed := start(t, server.Config{AllowOrigins: []string{"*.example"}})
	allowed.dialWS("/ws", "Origin: https://evil.example")
	_, res, err = allowed.tryDialWS("/ws/tasks/x", "Origin: https://other.test")
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("origin outside the pattern: %v %v, want 403", err, res)
	}
}

func TestAdminDropWS(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	c := ts.dialWS("/ws?topic=news")
	c.nextControl() // subscribed
	var got map[string]int
	ts.do("POST", "/api/admin/drop?transport=ws", "").decode(t, &got)
	if got["dropped"] != 1 {
		t.Fatalf("dropped %d", got["dropped"])
	}
	if ce := c.closeReason(); ce.Code != 1012 {
		t.Fatalf("close %v, want 1012", ce.Code)
	}
}
