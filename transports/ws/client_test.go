package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/internal/streamtest"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

// recorder collects what a Client delivers.
type recorder struct {
	streamtest.Recorder[ws.ClientState]
}

// config is a ClientConfig for url that reports to r and reconnects fast.
func (r *recorder) config(url string) ws.ClientConfig {
	return ws.ClientConfig{URL: url, Backoff: streamtest.Backoff,
		OnEvent: r.OnEvent, OnControl: r.OnControl, OnState: r.OnState}
}

func TestClientTaskStream(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	e.addTask("1")
	progress(t, e, "1", taskstream.KindQueued, 0)
	var rec recorder
	c := ws.NewClient(rec.config(e.url + "/ws/tasks/1"))
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "snapshot", func() bool { return len(rec.Seqs("task:1")) == 1 })
	for pct := 10; pct <= 50; pct += 10 {
		progress(t, e, "1", taskstream.KindProgress, pct)
	}
	// The server drops the connection mid-task; the client resumes with
	// last_event_id=<seq>: no second snapshot, nothing twice.
	streamtest.WaitFor(t, "progress", func() bool { return len(rec.Seqs("task:1")) == 6 })
	e.hub.DropAll(ws.Transport)
	for pct := 60; pct <= 90; pct += 10 {
		progress(t, e, "1", taskstream.KindProgress, pct)
	}
	progress(t, e, "1", taskstream.KindCompleted, 100)
	if err := r.Result(t); err != nil {
		t.Fatalf("Run = %v, want nil after the terminal event", err)
	}
	want := "[snapshot:1 progress:2 progress:3 progress:4 progress:5 progress:6 progress:7 progress:8 progress:9 progress:10 completed:11]"
	if got := fmt.Sprint(rec.Kinds()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	st := c.Stats()
	if st.Events != 11 || st.Connects != st.Reconnects+1 || st.Reconnects == 0 || st.Resets != 0 || st.Bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	if states := rec.States(); states[len(states)-1] != ws.StateClosed {
		t.Fatalf("states %v", states)
	}
}

// The client drops several times while four topics keep publishing; it
// resumes each topic, URL topics by last_event_id and subscribed topics by
// last_seq, and nothing is lost or duplicated.
func TestClientResumesAfterDrops(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	var rec recorder
	cfg := rec.config(e.url + "/ws?client_id=alice&topic=news")
	cfg.Topics = []string{"extra"}
	c := ws.NewClient(cfg)
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "subscribed", func() bool { return rec.HasControl(`"topic":"extra"`) })
	streamtest.WaitFor(t, "cursors", func() bool { return len(c.Cursors()) == 4 })
	// A topic subscribed through Send is resumed too.
	if err := c.Send(t.Context(), chat.Command{Type: chat.CmdSubscribe, Topic: "later"}); err != nil {
		t.Fatal(err)
	}
	streamtest.WaitFor(t, "subscribed later", func() bool { return rec.HasControl(`"topic":"later"`) })

	const n = 200
	topics := []string{"news", "extra", "later", "client:alice"}
	drops := 0
	for i := 1; i <= n; i++ {
		for _, topic := range topics {
			streamtest.Publish(t, e.hub, topic, "tick", fmt.Sprintf(`{"i":%d}`, i))
		}
		if i%50 == 0 {
			drops += e.hub.DropAll(ws.Transport)
		}
	}
	for _, topic := range topics {
		streamtest.WaitFor(t, topic, func() bool { return len(rec.Seqs(topic)) >= n })
	}
	r.Stop()
	for _, topic := range topics {
		if err := streamtest.Contiguous(rec.Seqs(topic), 1, n); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
	}
	// broadcast carries alice's own leave/join while she reconnects: it
	// must be gap-free and duplicate-free as well.
	if b := rec.Seqs("broadcast"); len(b) > 0 {
		if err := streamtest.Contiguous(b, b[0], b[len(b)-1]); err != nil {
			t.Errorf("broadcast: %v", err)
		}
	}
	if st := c.Stats(); st.Reconnects == 0 || drops == 0 {
		t.Fatalf("no reconnect happened: %+v, %d drops", st, drops)
	}
}

func TestClientReset(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{History: 3})
	for i := 0; i < 10; i++ {
		streamtest.Publish(t, e.hub, "news", "tick", `{}`)
	}
	var rec recorder
	c := ws.NewClient(rec.config(e.url + "/ws?topic=news&last_event_id=news=1"))
	streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "replay", func() bool { return len(rec.Seqs("news")) == 4 })
	if got := fmt.Sprint(rec.Kinds()); got != "[reset:7 tick:8 tick:9 tick:10]" {
		t.Fatalf("got %s", got)
	}
	if st := c.Stats(); st.Resets != 1 || st.Events != 4 {
		t.Fatalf("stats %+v", st)
	}
	if cur := c.Cursors(); cur["news"] != 10 {
		t.Fatalf("cursors %v", cur)
	}
}

func TestClientStops(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	e.addTask("done")
	progress(t, e, "done", taskstream.KindCompleted, 100)
	tests := []struct {
		name, path string
		check      func(error) bool
	}{
		{"unknown task: 4004", "/ws/tasks/nope", func(err error) bool { return websocket.CloseStatus(err) == 4004 }},
		{"bad cursor: 4400", "/ws/tasks/done?last_event_id=x", func(err error) bool { return websocket.CloseStatus(err) == 4400 }},
		{"bad connect: 400", "/ws?topic=a/b", func(err error) bool {
			var he *ws.HandshakeError
			return errors.As(err, &he) && he.StatusCode == 400 && strings.Contains(he.Body, "invalid_message")
		}},
		{"finished task: nil", "/ws/tasks/done", func(err error) bool { return err == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			cfg := rec.config(e.url + tt.path)
			cfg.HTTPClient = e.hc
			c := ws.NewClient(cfg)
			err := streamtest.Run(t, c.Run).Result(t)
			if !tt.check(err) {
				t.Fatalf("Run = %v", err)
			}
			if st := c.Stats(); st.Reconnects != 0 {
				t.Fatalf("retried: %+v", st)
			}
		})
	}
}

func TestClientRetriesWhenFull(t *testing.T) {
	e := newEnv(t, ws.Config{Limiter: transports.NewLimiter(1, 0)}, transports.HubConfig{})
	holder := e.dial(t, "/ws?topic=x", nil)
	holder.subscribed("x")
	var rec recorder
	c := ws.NewClient(rec.config(e.url + "/ws?topic=news"))
	r := streamtest.Run(t, c.Run)
	// Upgraded, then closed with 1013, again and again.
	streamtest.WaitFor(t, "retries", func() bool { return c.Stats().Connects >= 3 })
	holder.c.Close(websocket.StatusNormalClosure, "")
	streamtest.WaitFor(t, "attached", func() bool { return len(c.Cursors()) == 1 })
	streamtest.Publish(t, e.hub, "news", "tick", `{}`)
	streamtest.WaitFor(t, "event", func() bool { return len(rec.Seqs("news")) == 1 })
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
}

// The client answers the server's app-level pings with a pong carrying the
// same ts (a bare coder/websocket server checks it).
func TestClientAnswersPings(t *testing.T) {
	got := make(chan string, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		if err := c.Write(ctx, websocket.MessageText, transports.ControlFrame{Type: "ping", TS: 424242}.JSON()); err != nil {
			return
		}
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		got <- string(b)
		c.Close(websocket.StatusNormalClosure, "")
	}))
	defer ts.Close()
	var rec recorder
	c := ws.NewClient(rec.config(ts.URL + "/ws/tasks/1"))
	if err := streamtest.Run(t, c.Run).Result(t); err != nil {
		t.Fatal(err)
	}
	var pong transports.ControlFrame
	if err := json.Unmarshal([]byte(<-got), &pong); err != nil || pong.Type != "pong" || pong.TS != 424242 {
		t.Fatalf("pong %+v (%v)", pong, err)
	}
	if st := c.Stats(); st.Pings != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !rec.HasControl(`"type":"ping"`) {
		t.Fatal("OnControl did not see the ping")
	}
}

func TestClientSendNotConnected(t *testing.T) {
	c := ws.NewClient(ws.ClientConfig{URL: "ws://127.0.0.1:1/ws"})
	if err := c.Send(t.Context(), chat.Command{Type: chat.CmdPing}); !errors.Is(err, ws.ErrNotConnected) {
		t.Fatalf("Send = %v", err)
	}
	bad := ws.NewClient(ws.ClientConfig{URL: "::"})
	if err := bad.Run(t.Context()); err == nil {
		t.Fatal("Run with a bad URL succeeded")
	}
}
