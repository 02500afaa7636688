package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/internal/redistest"
	"github.com/twinstream/twinstream/transports"
)

// publishOn posts an event to node ts and returns its seq.
func publishOn(t *testing.T, ts *testServer, topic string, i int) uint64 {
	t.Helper()
	r := ts.do("POST", "/api/topics/"+topic+"/events", fmt.Sprintf(`{"event":"tick","data":{"i":%d}}`, i))
	if r.status != http.StatusCreated {
		t.Fatalf("publish on %s: %d %s", ts.url, r.status, r.body)
	}
	var res server.PublishResult
	r.decode(t, &res)
	return res.Seq
}

// nodes starts n demo servers on one Redis (or on several: shards).
func redisNodes(t *testing.T, n int, cfg server.Config, shards ...*redistest.Server) []*testServer {
	t.Helper()
	for _, s := range shards {
		cfg.Redis = append(cfg.Redis, s.URL())
	}
	var out []*testServer
	for range n {
		out = append(out, start(t, cfg))
	}
	return out
}

// A WebSocket on node A and an SSE stream on node B, events published on
// both nodes: both clients get the same seq and byte-for-byte the same
// JSON. With two Redis shards, for topics on either shard.
func TestCrossNodeSameEvents(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			var srv []*redistest.Server
			for range shards {
				srv = append(srv, redistest.Start(t, redistest.Options{}))
			}
			n := redisNodes(t, 2, server.Config{}, srv...)
			a, b := n[0], n[1]
			for _, topic := range []string{"news", "sport", "weather"} {
				w := a.dialWS("/ws?topic=" + topic).attached(1)
				s := b.openSSE("/sse?topic=" + topic).expectStream()
				for i := range 10 {
					publishOn(t, []*testServer{a, b}[i%2], topic, i)
				}
				for i := 1; i <= 10; i++ {
					wb := w.nextEvent()
					f := s.nextEvent()
					if string(wb) != f.data {
						t.Fatalf("%s event %d: WS %s, SSE %s", topic, i, wb, f.data)
					}
					if e := wireEvent(t, wb); e.Seq != uint64(i) || f.id != fmt.Sprint(i) {
						t.Fatalf("%s event %d: seq %d, SSE id %q", topic, i, e.Seq, f.id)
					}
				}
				s.close()
			}
		})
	}
}

// A client dropped from node A resumes on node B with its cursor, over
// either transport: no gap, no duplicate. A cursor older than the history
// gets a reset first.
func TestCrossNodeResume(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	n := redisNodes(t, 2, server.Config{History: 20}, srv)
	a, b := n[0], n[1]
	w := a.dialWS("/ws?topic=news").attached(1)
	s := a.openSSE("/sse?topic=news").expectStream()
	for i := range 5 {
		publishOn(t, a, "news", i)
	}
	var cursorWS uint64
	var cursorSSE string
	for range 5 {
		cursorWS = wireEvent(t, w.nextEvent()).Seq
		cursorSSE = s.nextEvent().id
	}
	w.c.CloseNow()
	s.close()
	for i := 5; i < 10; i++ { // published while the clients are away
		publishOn(t, b, "news", i)
	}
	w2 := b.dialWS(fmt.Sprintf("/ws?topic=news&last_event_id=%d", cursorWS))
	s2 := b.openSSE("/sse?topic=news", "Last-Event-ID: "+cursorSSE).expectStream()
	publishOn(t, a, "news", 10)
	for seq := uint64(6); seq <= 11; seq++ {
		if e := wireEvent(t, w2.nextEvent()); e.Seq != seq {
			t.Fatalf("WS resumed on B: seq %d, want %d", e.Seq, seq)
		}
		if e := s2.nextEvent().event(t); e.Seq != seq {
			t.Fatalf("SSE resumed on B: seq %d, want %d", e.Seq, seq)
		}
	}

	for i := 11; i < 40; i++ { // past the history of 20
		publishOn(t, a, "news", i)
	}
	old := b.openSSE("/sse?topic=news", "Last-Event-ID: 3").expectStream()
	e := old.nextEvent().event(t)
	var d transports.ResetData
	if err := jsonUnmarshal(e.Data, &d); err != nil || e.Event != transports.KindReset || d.Reason != transports.ResetHistoryExpired {
		t.Fatalf("old cursor: first event %+v %s, want a history_expired reset", e, e.Data)
	}
	if next := old.nextEvent().event(t); next.Seq != e.Seq+1 {
		t.Fatalf("after the reset (seq %d): seq %d", e.Seq, next.Seq)
	}
}

// Redis down: /healthz says so (503 with a reason), a publish answers 503
// instead of being dropped, and connected clients stay connected with their
// heartbeats. Redis back (without its data): publishing works again and
// the client gets a reset (epoch_changed) before the new epoch's events.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	n := redisNodes(t, 1, server.Config{Heartbeat: 100 * time.Millisecond, IdleTimeout: 5 * time.Second}, srv)
	a := n[0]
	if r := a.do("GET", "/healthz", ""); r.status != http.StatusOK {
		t.Fatalf("healthz with Redis: %d %s", r.status, r.body)
	}
	w := a.dialWS("/ws?topic=news").attached(1)
	publishOn(t, a, "news", 0)
	if e := wireEvent(t, w.nextEvent()); e.Seq != 1 {
		t.Fatalf("seq %d", e.Seq)
	}
	srv.Stop()
	r := a.do("GET", "/healthz", "")
	var h server.Health
	r.decode(t, &h)
	if r.status != http.StatusServiceUnavailable || h.Status != "unavailable" || !strings.Contains(h.Reason, "redis") {
		t.Fatalf("healthz with Redis down: %d %s", r.status, r.body)
	}
	pr := a.do("POST", "/api/topics/news/events", `{"event":"tick","data":{}}`)
	pr.errorFrame(t, http.StatusServiceUnavailable, transports.CodeUnavailable)
	if pr.header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	// A new stream on a topic the node does not follow yet cannot start:
	// SSE gets 200 with retry: (an EventSource retries), WS close 4503.
	refused := a.openSSE("/sse?topic=other").expectStream()
	if f, err := refused.next(); err != nil || f.retry == "" || !strings.Contains(f.data, `"code":"unavailable"`) {
		t.Fatalf("SSE with Redis down: %+v, %v", f, err)
	}
	if _, code := a.dialWS("/ws?topic=other").untilClose(); code != 4503 {
		t.Fatalf("WS with Redis down: close %d, want 4503", code)
	}
	for pings := 0; pings < 3; { // the connection lives on, heartbeats and all
		b, err := w.read()
		if err != nil {
			t.Fatalf("WebSocket with Redis down: %v", err)
		}
		if frameType(t, b) == transports.TypePing {
			pings++
		}
	}
	srv.Start()
	eventually(t, "healthz ok again", func() bool { return a.do("GET", "/healthz", "").status == http.StatusOK })
	eventually(t, "a publish to succeed", func() bool {
		return a.do("POST", "/api/topics/news/events", `{"event":"tick","data":{}}`).status == http.StatusCreated
	})
	e := wireEvent(t, w.nextEvent())
	var d transports.ResetData
	if err := jsonUnmarshal(e.Data, &d); err != nil || e.Event != transports.KindReset || d.Reason != transports.ResetEpochChanged || d.Cursor != 1 {
		t.Fatalf("after Redis came back empty: %+v %s, want an epoch_changed reset", e, e.Data)
	}
	if next := wireEvent(t, w.nextEvent()); next.Seq != 1 || e.Seq != 0 {
		t.Fatalf("reset seq %d, then seq %d; want 0 then 1", e.Seq, next.Seq)
	}
}

func TestRedisFlag(t *testing.T) {
	cfg, _, err := server.ParseFlags([]string{"--redis", "redis://127.0.0.1:6379/0", "--redis", "rediss://u:p@10.0.0.2:6380/1"}, io.Discard)
	if err != nil || len(cfg.Redis) != 2 || cfg.Redis[1] != "rediss://u:p@10.0.0.2:6380/1" {
		t.Fatalf("cfg.Redis %q, err %v", cfg.Redis, err)
	}
	for _, bad := range [][]string{{"--redis", "http://x:1"}, {"--redis", "redis://h:1/0", "--redis", "redis://h:1/0"}} {
		if _, _, err := server.ParseFlags(bad, io.Discard); err == nil || !strings.Contains(err.Error(), "redis") {
			t.Errorf("ParseFlags(%q): err %v", bad, err)
		}
	}
}
