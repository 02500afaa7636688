package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// TestBothTransportsSameTaskStream: WebSocket and SSE clients of one task
// get the same events — same seq, same JSON bytes — snapshot first and
// terminal last.
func TestBothTransportsSameTaskStream(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := ts.createTask(`{"files":15,"step_ms":20,"fail_at":12}`)
	path := "/tasks/" + task.ID
	wsc := ts.dialWS("/ws" + path)
	ssec := ts.openSSE("/sse" + path).expectStream()
	wsRaw, status := wsc.untilClose()
	if status != websocket.StatusNormalClosure {
		t.Fatalf("ws close %v", status)
	}
	var sseRaw [][]byte
	for _, f := range ssec.events() {
		sseRaw = append(sseRaw, []byte(f.data))
	}
	decode := func(raw [][]byte) []transports.WireEvent {
		out := make([]transports.WireEvent, len(raw))
		for i, b := range raw {
			out[i] = wireEvent(t, b)
		}
		return out
	}
	wsEv, sseEv := decode(wsRaw), decode(sseRaw)
	checkTaskStream(t, wsEv, tasks.Topic(task.ID))
	checkTaskStream(t, sseEv, tasks.Topic(task.ID))
	// Each began with a snapshot of the state when it attached; from the
	// later of the two snapshots on, the streams are byte for byte equal,
	// and the earlier one's event at that seq carries the same state.
	from := max(wsEv[0].Seq, sseEv[0].Seq)
	tail := func(evs []transports.WireEvent, raw [][]byte) ([]string, []byte) {
		var out []string
		var at []byte
		for i, e := range evs {
			if e.Seq == from {
				at = e.Data
			}
			if e.Seq > from {
				out = append(out, string(raw[i]))
			}
		}
		return out, at
	}
	wsTail, wsAt := tail(wsEv, wsRaw)
	sseTail, sseAt := tail(sseEv, sseRaw)
	if strings.Join(wsTail, "\n") != strings.Join(sseTail, "\n") {
		t.Fatalf("streams differ after seq %d:\nws:  %q\nsse: %q", from, wsTail, sseTail)
	}
	if string(wsAt) != string(sseAt) {
		t.Fatalf("state at seq %d differs:\nws:  %s\nsse: %s", from, wsAt, sseAt)
	}
	last := wsEv[len(wsEv)-1]
	if last.Event != taskstream.KindFailed || last.Seq != 14 || taskState(t, last).Error != "file 12/15 failed" {
		t.Fatalf("terminal %s %d %s", last.Event, last.Seq, last.Data)
	}

	// Replayed from the start (cursor 0) both streams are identical in full.
	wsAll, _ := ts.dialWS("/ws" + path + "?last_event_id=0").untilClose()
	var sseAll []string
	for _, f := range ts.openSSE("/sse"+path, "Last-Event-ID: 0").expectStream().events() {
		sseAll = append(sseAll, f.data)
	}
	var wsAllS []string
	for _, b := range wsAll {
		wsAllS = append(wsAllS, string(b))
	}
	if len(wsAllS) != 14 || strings.Join(wsAllS, "\n") != strings.Join(sseAll, "\n") {
		t.Fatalf("full replays differ or are incomplete (%d events):\nws:  %q\nsse: %q", len(wsAllS), wsAllS, sseAll)
	}
	if e := wireEvent(t, wsAll[0]); e.Event != taskstream.KindQueued || e.Seq != 1 {
		t.Fatalf("replay starts with %s %d", e.Event, e.Seq)
	}
	// And the snapshot of the finished task is the same on both.
	wsSnap, _ := ts.dialWS("/ws" + path).untilClose()
	sseSnap := ts.openSSE("/sse" + path).expectStream().events()
	if len(wsSnap) != 1 || len(sseSnap) != 1 || string(wsSnap[0]) != sseSnap[0].data {
		t.Fatalf("final snapshots differ: %q vs %+v", wsSnap, sseSnap)
	}
}

// TestCrossTransportMessaging routes chat commands between WebSocket
// clients (commands on the socket) and SSE clients (POST /api/messages).
func TestCrossTransportMessaging(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	// Each connection is attached (it got its starting cursors, or the SSE
	// response began) before the next one joins, so joins arrive in order.
	alice := ts.dialWS("/ws?client_id=alice").attached(2)
	bob := ts.dialWS("/ws?client_id=bob").attached(2)
	dave := ts.openSSE("/sse?client_id=dave").expectStream()

	type msg struct{ topic, kind, from, text string }
	wsMsg := func(c *wsConn) msg {
		t.Helper()
		e := wireEvent(t, c.nextEvent())
		var m chat.Message
		_ = jsonUnmarshal(e.Data, &m)
		if e.Event == chat.KindJoin || e.Event == chat.KindLeave {
			var p struct {
				ClientID string `json:"client_id"`
			}
			_ = jsonUnmarshal(e.Data, &p)
			m.From = p.ClientID
		}
		return msg{e.Topic, e.Event, m.From, m.Message}
	}
	sseMsg := func() msg {
		t.Helper()
		e := dave.nextEvent().event(t)
		var m chat.Message
		_ = jsonUnmarshal(e.Data, &m)
		return msg{e.Topic, e.Event, m.From, m.Message}
	}
	// alice saw bob and dave join (in that order).
	for _, who := range []string{"bob", "dave"} {
		if m := wsMsg(alice); m != (msg{"broadcast", "join", who, ""}) {
			t.Fatalf("alice got %+v, want %s's join", m, who)
		}
	}
	if m := wsMsg(bob); m != (msg{"broadcast", "join", "dave", ""}) {
		t.Fatalf("bob got %+v", m)
	}

	// WS broadcast reaches both transports, the sender included.
	alice.send(`{"type":"broadcast","message":"hi all","id":"b1"}`)
	want := msg{"broadcast", "message", "alice", "hi all"}
	for name, got := range map[string]msg{"alice": wsMsg(alice), "bob": wsMsg(bob), "dave": sseMsg()} {
		if got != want {
			t.Fatalf("%s got %+v, want %+v", name, got, want)
		}
	}
	// WS personal to an SSE client.
	alice.send(`{"type":"personal","to":"dave","message":"hi dave"}`)
	if m := sseMsg(); m != (msg{"client:dave", "message", "alice", "hi dave"}) {
		t.Fatalf("dave got %+v", m)
	}
	// SSE client answers through POST /api/messages: personal to a WS client.
	if res := ts.do("POST", "/api/messages?client_id=dave", `{"type":"personal","to":"alice","message":"hi alice"}`); res.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", res.status, res.body)
	}
	if m := wsMsg(alice); m != (msg{"client:alice", "message", "dave", "hi alice"}) {
		t.Fatalf("alice got %+v", m)
	}
	// broadcast_except from the SSE client skips only dave's connections.
	ts.do("POST", "/api/messages?client_id=dave", `{"type":"broadcast_except","message":"not to dave"}`)
	ts.do("POST", "/api/messages?client_id=carol", `{"type":"broadcast","message":"marker"}`)
	for name, c := range map[string]*wsConn{"alice": alice, "bob": bob} {
		if m := wsMsg(c); m != (msg{"broadcast", "message", "dave", "not to dave"}) {
			t.Fatalf("%s got %+v", name, m)
		}
		if m := wsMsg(c); m.text != "marker" {
			t.Fatalf("%s got %+v", name, m)
		}
	}
	if m := sseMsg(); m.text != "marker" {
		t.Fatalf("dave got %+v, want the marker (broadcast_except must skip him)", m)
	}
	// broadcast_except over WS.
	bob.send(`{"type":"broadcast_except","message":"not to bob"}`)
	if m := wsMsg(alice); m.text != "not to bob" {
		t.Fatalf("alice got %+v", m)
	}
	if m := sseMsg(); m.text != "not to bob" {
		t.Fatalf("dave got %+v", m)
	}
	// Leaves reach the others.
	dave.close()
	if m := wsMsg(alice); m != (msg{"broadcast", "leave", "dave", ""}) {
		t.Fatalf("alice got %+v, want dave's leave", m)
	}
	_ = bob.c.Close(websocket.StatusNormalClosure, "bye")
	if m := wsMsg(alice); m != (msg{"broadcast", "leave", "bob", ""}) {
		t.Fatalf("alice got %+v, want bob's leave", m)
	}
}

// TestConnectionLimits: the global and per-IP caps count WebSocket and SSE
// connections together; over a cap WS closes 1013 and SSE gets a
// too_many_connections frame in a 200 event stream (so EventSource retries).
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	expectRefusedWS := func(t *testing.T, c *wsConn) {
		t.Helper()
		if ce := c.closeReason(); ce.Code != 1013 {
			t.Fatalf("close %v, want 1013", ce.Code)
		}
	}
	expectRefusedSSE := func(t *testing.T, c *sseConn) {
		t.Helper()
		c.expectStream()
		var sawError bool
		for {
			f, err := c.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(f.data, `"too_many_connections"`) {
				sawError = true
			}
			if f.isEvent() {
				t.Fatalf("refused stream carried an event: %s", f.data)
			}
		}
		if !sawError {
			t.Fatal("no too_many_connections frame")
		}
	}

	t.Run("global", func(t *testing.T) {
		t.Parallel()
		ts := start(t, server.Config{MaxConns: 2})
		ws1 := ts.dialWS("/ws?topic=a")
		ts.openSSE("/sse?topic=a").expectStream()
		expectRefusedWS(t, ts.dialWS("/ws?topic=a"))
		expectRefusedSSE(t, ts.openSSE("/sse?topic=a"))
		// A WebSocket is attached to the hub right after its upgrade, so
		// the client can see the 101 before the stats count it.
		var m server.Metrics
		eventually(t, "both streams in the stats", func() bool {
			m = server.Metrics{}
			ts.do("GET", "/api/stats", "").decode(t, &m)
			return m.Limiter.Open == 2 && m.Connections["total"] == 2
		})
		_ = ws1.c.Close(websocket.StatusNormalClosure, "")
		eventually(t, "the slot to free", func() bool { return ts.Collect().Limiter.Open == 1 })
		ts.openSSE("/sse?topic=a").expectStream().nextFrameWithin(t)
	})
	t.Run("per IP", func(t *testing.T) {
		t.Parallel()
		ts := start(t, server.Config{MaxConnsPerIP: 1})
		other := dialFrom(t, "127.0.0.2")
		ts.openSSE("/sse?topic=a").expectStream()
		expectRefusedWS(t, ts.dialWS("/ws?topic=a"))
		c, _, err := dialWSWith(t, other, ts.wsURL("/ws?topic=a"))
		if err != nil {
			t.Fatalf("another IP: %v", err)
		}
		if b := c.nextControl(); frameType(t, b) != transports.TypeSubscribed {
			t.Fatalf("another IP got %s", b)
		}
		expectRefusedSSE(t, openSSEWith(t, other, ts.url+"/sse?topic=a"))
	})
}

// nextFrameWithin reads the first frame of an accepted stream.
func (c *sseConn) nextFrameWithin(t *testing.T) {
	t.Helper()
	f, err := c.next()
	if err != nil || f.retry == "" {
		t.Fatalf("first frame %+v, %v; want retry:", f, err)
	}
}

// TestSlowClientDoesNotDelayOthers: WebSocket and SSE clients that never
// read fill their buffers and queues and are cut off as slow consumers,
// while fast clients of both transports keep receiving every event in
// lockstep with the publisher.
func TestSlowClientDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{QueueSize: 256, WriteTimeout: 5 * time.Second})
	host := strings.TrimPrefix(ts.url, "http://")
	// Slow clients: raw sockets with a small receive buffer that never read.
	for _, req := range []string{
		"GET /ws?topic=flood HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
		"GET /sse?topic=flood HTTP/1.1\r\nHost: " + host + "\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.(*net.TCPConn).SetReadBuffer(4096)
		if _, err := io.WriteString(conn, req); err != nil {
			t.Fatal(err)
		}
	}
	// Fast clients, one per transport, each read by its own goroutine.
	fastWS := ts.dialWS("/ws?topic=flood")
	if b := fastWS.nextControl(); frameType(t, b) != transports.TypeSubscribed {
		t.Fatalf("got %s", b)
	}
	fastSSE := ts.openSSE("/sse?topic=flood").expectStream()
	eventually(t, "4 connections", func() bool { return ts.Collect().Connections["total"] == 4 })

	var got [2]atomic.Uint64 // last seq seen by the fast ws and sse clients
	var closing atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	follow := func(i int, next func() ([]byte, error)) {
		defer wg.Done()
		for {
			b, err := next()
			if err != nil {
				if !closing.Load() {
					errs <- fmt.Errorf("fast client %d cut off after seq %d: %v", i, got[i].Load(), err)
				}
				return
			}
			if !strings.HasPrefix(string(b), `{"type":"event"`) {
				continue
			}
			var e transports.WireEvent
			if err := jsonUnmarshal(b, &e); err != nil || e.Seq != got[i].Load()+1 {
				errs <- fmt.Errorf("client %d: event seq %d after %d (%v)", i, e.Seq, got[i].Load(), err)
				return
			}
			got[i].Store(e.Seq)
		}
	}
	wg.Add(2)
	go follow(0, fastWS.read)             // owner: this test, which waits for it (wg); ends when the connection closes
	go follow(1, func() ([]byte, error) { // owner: the same
		for {
			f, err := fastSSE.next()
			if err != nil || f.data != "" {
				return []byte(f.data), err
			}
		}
	})
	defer func() {
		closing.Store(true)
		_ = fastWS.c.CloseNow()
		fastSSE.close()
		wg.Wait()
	}()

	data := []byte(`{"pad":"` + strings.Repeat("x", 8<<10) + `"}`)
	var seq uint64
	slowGone := func() bool { return ts.Collect().Connections["total"] == 2 }
	// A slow client is kicked when its queue fills, and its connection
	// ends once its blocked write fails (WriteTimeout, 5 s): the bound is
	// time, not a number of events (a fast machine publishes 20,000 of
	// them well within 5 s).
	giveUp := time.Now().Add(3 * 5 * time.Second)
	for seq < 1000 || !slowGone() {
		if time.Now().After(giveUp) {
			t.Fatalf("slow clients still connected after %d events: %+v", seq, ts.Hub().Stats())
		}
		for range 100 {
			e, err := ts.Hub().Publish(context.Background(), "flood", "tick", data)
			if err != nil {
				t.Fatal(err)
			}
			seq = e.Seq
		}
		// Lockstep: the fast clients must get every event even though two
		// clients stopped reading long ago.
		eventually(t, fmt.Sprintf("fast clients to reach seq %d", seq), func() bool {
			select {
			case err := <-errs:
				t.Fatal(err)
			default:
			}
			return got[0].Load() == seq && got[1].Load() == seq
		})
	}
	// Cut off as slow consumers (queue full) or, if the writer was blocked
	// longer than WriteTimeout first, by the write deadline.
	t.Logf("slow clients gone after %d events of %d bytes: %+v", seq, len(data), ts.Hub().Stats())
}

// TestGracefulShutdown: in-flight tasks end failed with a published
// terminal event that task streams deliver before closing normally; other
// WebSocket clients get 1001 and SSE streams end; nothing leaks (goleak in
// TestMain).
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Workers: 1})
	running := ts.createTask(`{"files":1000,"step_ms":50}`)
	queued := ts.createTask(`{"files":5,"step_ms":50}`)
	runWS := ts.dialWS("/ws/tasks/" + running.ID)
	runSSE := ts.openSSE("/sse/tasks/" + running.ID).expectStream()
	queuedWS := ts.dialWS("/ws/tasks/" + queued.ID)
	alice := ts.dialWS("/ws?client_id=alice")
	bob := ts.openSSE("/sse?client_id=bob").expectStream()
	eventually(t, "the task to run and streams to attach", func() bool {
		e := ts.Hub().Latest(tasks.Topic(running.ID))
		c := ts.Collect().Connections
		return e != nil && e.Kind == taskstream.KindProgress && c["ws"] == 3 && c["sse"] == 2
	})

	done := make(chan error, 1)
	go func() { // owner: this test, which waits for done; ends when Shutdown returns (15 s at most)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()

	lastFailed := func(name string, evs []transports.WireEvent) {
		t.Helper()
		if len(evs) == 0 {
			t.Fatalf("%s: no events", name)
		}
		last := evs[len(evs)-1]
		if st := taskState(t, last); last.Event != taskstream.KindFailed || st.Error != tasks.ErrShuttingDown {
			t.Fatalf("%s ended with %s %s", name, last.Event, last.Data)
		}
	}
	for name, c := range map[string]*wsConn{"running ws": runWS, "queued ws": queuedWS} {
		raw, status := c.untilClose()
		if status != websocket.StatusNormalClosure {
			t.Fatalf("%s: close %v, want 1000 after the terminal event", name, status)
		}
		var evs []transports.WireEvent
		for _, b := range raw {
			evs = append(evs, wireEvent(t, b))
		}
		lastFailed(name, evs)
	}
	var sseEvs []transports.WireEvent
	for _, f := range runSSE.events() {
		sseEvs = append(sseEvs, f.event(t))
	}
	lastFailed("running sse", sseEvs)
	if ce := alice.closeReason(); ce.Code != websocket.StatusGoingAway {
		t.Fatalf("alice close %v, want 1001", ce.Code)
	}
	if _, err := io.ReadAll(bob.r); err != nil {
		t.Fatalf("bob's stream did not end cleanly: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("shutdown did not return")
	}
	for _, id := range []string{running.ID, queued.ID} {
		task, err := ts.Runner().Store().Get(context.Background(), id)
		if err != nil || task.Status != tasks.StatusFailed || task.Error != tasks.ErrShuttingDown {
			t.Fatalf("task %s after shutdown: %+v %v", id, task, err)
		}
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(ts.url, "http://"), time.Second); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
}
