package ws_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

// progress publishes a task-like full-state event.
func progress(t *testing.T, e *env, id string, kind string, pct int) *transports.Event {
	t.Helper()
	return e.publish(t, taskstream.Topic(id), kind, fmt.Sprintf(`{"id":%q,"progress":%d}`, id, pct))
}

func TestTaskStream(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	e.addTask("1")
	progress(t, e, "1", taskstream.KindQueued, 0)
	progress(t, e, "1", taskstream.KindProgress, 10)

	c := e.dial(t, "/ws/tasks/1", nil)
	snap := c.event()
	if snap.Event != transports.KindSnapshot || snap.Seq != 2 || snap.Topic != "task:1" || string(snap.Data) != `{"id":"1","progress":10}` {
		t.Fatalf("first frame %s, want the snapshot of seq 2", snap)
	}
	var sent []*transports.Event
	for pct := 20; pct <= 90; pct += 10 {
		sent = append(sent, progress(t, e, "1", taskstream.KindProgress, pct))
	}
	sent = append(sent, progress(t, e, "1", taskstream.KindCompleted, 100))
	for _, want := range sent {
		f := c.event()
		if f.raw != string(want.JSON()) {
			t.Fatalf("got %s, want the wire form %s", f, want.JSON())
		}
	}
	c.wantClose(websocket.StatusNormalClosure, transports.ReasonDone.Text)

	t.Run("finished task", func(t *testing.T) {
		c := e.dial(t, "/ws/tasks/1", nil)
		if f := c.event(); f.Event != transports.KindSnapshot || f.Seq != 11 || string(f.Data) != `{"id":"1","progress":100}` {
			t.Fatalf("got %s, want the final snapshot", f)
		}
		c.wantClose(websocket.StatusNormalClosure, "")
	})
	t.Run("cursor at the end", func(t *testing.T) {
		e.dial(t, "/ws/tasks/1?last_event_id=11", nil).wantClose(websocket.StatusNormalClosure, "")
	})
	t.Run("resume mid-task", func(t *testing.T) {
		c := e.dial(t, "/ws/tasks/1?last_event_id=8", nil)
		for seq := uint64(9); seq <= 11; seq++ {
			if f := c.event(); f.Seq != seq || f.Event == transports.KindSnapshot {
				t.Fatalf("got %s, want seq %d replayed", f, seq)
			}
		}
		c.wantClose(websocket.StatusNormalClosure, "")
	})
	t.Run("bad cursor", func(t *testing.T) {
		c := e.dial(t, "/ws/tasks/1?last_event_id=x", nil)
		if f := c.next(); f.Type != transports.TypeError || f.Code != transports.CodeInvalidMessage || f.Fields["last_event_id"] == "" {
			t.Fatalf("got %s", f)
		}
		c.wantClose(websocket.StatusCode(transports.ReasonBadRequest.WSStatus), "")
	})
	t.Run("commands refused", func(t *testing.T) {
		e.addTask("2")
		progress(t, e, "2", taskstream.KindQueued, 0)
		c := e.dial(t, "/ws/tasks/2", nil)
		c.event()
		c.send(`{"type":"subscribe","topic":"news","id":"x"}`)
		if f := c.next(); f.Type != transports.TypeError || f.Code != transports.CodeInvalidMessage || f.ID != "x" {
			t.Fatalf("got %s", f)
		}
		c.send(`{"type":"ping","ts":5}`)
		if f := c.next(); f.Type != transports.TypePong || f.TS != 5 {
			t.Fatalf("got %s", f)
		}
	})
}

func TestTaskStreamResetWhenHistoryIsGone(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{History: 3})
	e.addTask("9")
	for pct := 0; pct < 10; pct++ {
		progress(t, e, "9", taskstream.KindProgress, pct*10)
	}
	c := e.dial(t, "/ws/tasks/9?last_event_id=2", nil)
	f := c.event()
	var rd transports.ResetData
	if err := json.Unmarshal(f.Data, &rd); err != nil || f.Event != transports.KindReset {
		t.Fatalf("got %s, want a reset", f)
	}
	if rd.Reason != transports.ResetHistoryExpired || rd.Cursor != 2 || rd.LostFrom != 3 || rd.LostTo != 7 || rd.Latest != 10 {
		t.Fatalf("reset data %+v", rd)
	}
	if f := c.event(); f.Event != transports.KindSnapshot || f.Seq != 10 {
		t.Fatalf("got %s, want the snapshot after the reset", f)
	}
}

func TestTaskStreamNotFound(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	c := e.dial(t, "/ws/tasks/nope", nil)
	f := c.next()
	if f.Type != transports.TypeError || f.Code != transports.CodeNotFound || f.Message != `no task "nope"` {
		t.Fatalf("got %s, want a not_found error frame", f)
	}
	c.wantClose(websocket.StatusCode(transports.ReasonNotFound.WSStatus), transports.ReasonNotFound.Text)
}

func TestResolverFailure(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	broken := e.srv.Stream(func(*http.Request) (transports.Stream, error) {
		return transports.Stream{}, errors.New("store is down")
	})
	ts := httptest.NewServer(broken)
	defer ts.Close()
	ctx := t.Context()
	conn, _, err := websocket.Dial(ctx, ts.URL, &websocket.DialOptions{HTTPClient: e.hc})
	if err != nil {
		t.Fatal(err)
	}
	c := &raw{t: t, c: conn}
	if f := c.next(); f.Code != transports.CodeInternal || f.Message == "store is down" {
		t.Fatalf("got %s, want an internal error that does not leak details", f)
	}
	c.wantClose(websocket.StatusInternalError, "")
}
