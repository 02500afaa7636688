package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

// recorder collects what a Client delivers.
type recorder struct {
	mu       sync.Mutex
	events   []transports.WireEvent
	controls []string
	states   []ws.ClientState
}

func (r *recorder) config(url string) ws.ClientConfig {
	return ws.ClientConfig{
		URL:     url,
		Backoff: transports.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		OnEvent: func(e transports.WireEvent) {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		},
		OnControl: func(b []byte) {
			r.mu.Lock()
			r.controls = append(r.controls, string(b))
			r.mu.Unlock()
		},
		OnState: func(s ws.ClientState) {
			r.mu.Lock()
			r.states = append(r.states, s)
			r.mu.Unlock()
		},
	}
}

// seqs returns the seqs received on topic, in order.
func (r *recorder) seqs(topic string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uint64
	for _, e := range r.events {
		if e.Topic == topic {
			out = append(out, e.Seq)
		}
	}
	return out
}

func (r *recorder) kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, fmt.Sprintf("%s:%d", e.Event, e.Seq))
	}
	return out
}

func (r *recorder) hasControl(sub string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.controls {
		if strings.Contains(c, sub) {
			return true
		}
	}
	return false
}

// running is a Client.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func run(t *testing.T, c *ws.Client) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// result waits for Run to return on its own.
func (r *running) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(wait):
		t.Fatal("Run did not return")
		return nil
	}
}

func (r *running) stop() error {
	r.cancel()
	err := <-r.done
	r.done <- err
	return err
}

// contiguous checks seqs are exactly from..to.
func contiguous(seqs []uint64, from, to uint64) error {
	if uint64(len(seqs)) != to-from+1 {
		return fmt.Errorf("got %d events %v, want %d..%d", len(seqs), seqs, from, to)
	}
	for i, s := range seqs {
		if s != from+uint64(i) {
			return fmt.Errorf("event %d has seq %d, want %d (gap or duplicate): %v", i, s, from+uint64(i), seqs)
		}
	}
	return nil
}

func TestClientTaskStream(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	e.addTask("1")
	progress(t, e, "1", transports.KindQueued, 0)
	var rec recorder
	c := ws.NewClient(rec.config(e.url + "/ws/tasks/1"))
	r := run(t, c)
	waitFor(t, "snapshot", func() bool { return len(rec.seqs("task:1")) == 1 })
	for pct := 10; pct <= 50; pct += 10 {
		progress(t, e, "1", transports.KindProgress, pct)
	}
	// The server drops the connection mid-task; the client resumes with
	// last_event_id=<seq>: no second snapshot, nothing twice.
	waitFor(t, "progress", func() bool { return len(rec.seqs("task:1")) == 6 })
	e.hub.DropAll(ws.Transport)
	for pct := 60; pct <= 90; pct += 10 {
		progress(t, e, "1", transports.KindProgress, pct)
	}
	progress(t, e, "1", transports.KindCompleted, 100)
	if err := r.result(t); err != nil {
		t.Fatalf("Run = %v, want nil after the terminal event", err)
	}
	want := "[snapshot:1 progress:2 progress:3 progress:4 progress:5 progress:6 progress:7 progress:8 progress:9 progress:10 completed:11]"
	if got := fmt.Sprint(rec.kinds()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	st := c.Stats()
	if st.Events != 11 || st.Connects != st.Reconnects+1 || st.Reconnects == 0 || st.Resets != 0 || st.Bytes == 0 {
		t.Fatalf("stats %+v", st)
	}
	if rec.states[len(rec.states)-1] != ws.StateClosed {
		t.Fatalf("states %v", rec.states)
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
	r := run(t, c)
	waitFor(t, "subscribed", func() bool { return rec.hasControl(`"topic":"extra"`) })
	waitFor(t, "cursors", func() bool { return len(c.Cursors()) == 4 })
	// A topic subscribed through Send is resumed too.
	if err := c.Send(t.Context(), transports.Command{Type: transports.CmdSubscribe, Topic: "later"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscribed later", func() bool { return rec.hasControl(`"topic":"later"`) })

	const n = 200
	topics := []string{"news", "extra", "later", "client:alice"}
	drops := 0
	for i := 1; i <= n; i++ {
		for _, topic := range topics {
			e.publish(t, topic, "tick", fmt.Sprintf(`{"i":%d}`, i))
		}
		if i%50 == 0 {
			drops += e.hub.DropAll(ws.Transport)
		}
	}
	for _, topic := range topics {
		waitFor(t, topic, func() bool { return len(rec.seqs(topic)) >= n })
	}
	r.stop()
	for _, topic := range topics {
		if err := contiguous(rec.seqs(topic), 1, n); err != nil {
			t.Errorf("%s: %v", topic, err)
		}
	}
	// broadcast carries alice's own leave/join while she reconnects: it
	// must be gap-free and duplicate-free as well.
	if b := rec.seqs("broadcast"); len(b) > 0 {
		if err := contiguous(b, b[0], b[len(b)-1]); err != nil {
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
		e.publish(t, "news", "tick", `{}`)
	}
	var rec recorder
	c := ws.NewClient(rec.config(e.url + "/ws?topic=news&last_event_id=news=1"))
	run(t, c)
	waitFor(t, "replay", func() bool { return len(rec.seqs("news")) == 4 })
	if got := fmt.Sprint(rec.kinds()); got != "[reset:7 tick:8 tick:9 tick:10]" {
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
	progress(t, e, "done", transports.KindCompleted, 100)
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
			err := run(t, c).result(t)
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
	r := run(t, c)
	// Upgraded, then closed with 1013, again and again.
	waitFor(t, "retries", func() bool { return c.Stats().Connects >= 3 })
	holder.c.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "attached", func() bool { return len(c.Cursors()) == 1 })
	e.publish(t, "news", "tick", `{}`)
	waitFor(t, "event", func() bool { return len(rec.seqs("news")) == 1 })
	if err := r.stop(); !errors.Is(err, context.Canceled) {
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
	if err := run(t, c).result(t); err != nil {
		t.Fatal(err)
	}
	var pong transports.ControlFrame
	if err := json.Unmarshal([]byte(<-got), &pong); err != nil || pong.Type != "pong" || pong.TS != 424242 {
		t.Fatalf("pong %+v (%v)", pong, err)
	}
	if st := c.Stats(); st.Pings != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !rec.hasControl(`"type":"ping"`) {
		t.Fatal("OnControl did not see the ping")
	}
}

func TestClientSendNotConnected(t *testing.T) {
	c := ws.NewClient(ws.ClientConfig{URL: "ws://127.0.0.1:1/ws"})
	if err := c.Send(t.Context(), transports.Command{Type: transports.CmdPing}); !errors.Is(err, ws.ErrNotConnected) {
		t.Fatalf("Send = %v", err)
	}
	bad := ws.NewClient(ws.ClientConfig{URL: "::"})
	if err := bad.Run(t.Context()); err == nil {
		t.Fatal("Run with a bad URL succeeded")
	}
}
