package sse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// Every event is a frame with id: (the cursor) and data: (exactly the
// event's wire JSON), with no event: field; the first frame carries retry:;
// frames are flushed at once, not held in a buffer.
func TestWireFormat(t *testing.T) {
	e := newEnv(t, envOpts{cfg: sse.Config{Retry: 1500 * time.Millisecond}})
	e.publish(t, "news", "headline", `{"n":0}`) // before the connect: not replayed

	r := e.dial(t, "/sse?topic=news", nil)
	if cc := r.res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("Cache-Control = %q, want no-cache", cc)
	}
	hello := r.next(t)
	if got := strings.Join(hello.lines, "\n"); got != "id: 1\nretry: 1500" {
		t.Errorf("first frame = %q, want the starting cursor and retry:", got)
	}
	for i := 1; i <= 3; i++ {
		// One small event at a time: a stream that buffered frames would
		// never deliver it.
		ev := e.publish(t, "news", "headline", fmt.Sprintf(`{"n":%d}`, i))
		f := r.next(t)
		want := []string{"id: " + strconv.FormatUint(ev.Seq, 10), "data: " + string(ev.JSON())}
		if fmt.Sprint(f.lines) != fmt.Sprint(want) {
			t.Fatalf("frame %d:\n got %q\nwant %q", i, f.lines, want)
		}
	}
}

// A stream with a client id carries the client's personal topic, the
// broadcast topic and its own topics; ids are composite cursors.
func TestMultiTopicRouting(t *testing.T) {
	e := newEnv(t, envOpts{})
	alice := e.dial(t, "/sse?client_id=alice&topic=news", nil)
	if id, _ := alice.next(t).field("id"); id != "broadcast=1,client:alice=0,news=0" {
		t.Errorf("alice's starting id = %q", id) // broadcast=1 is alice's own join
	}
	bob := e.dial(t, "/sse?client_id=bob", nil)
	bob.next(t)

	type got struct{ topic, kind, data, id string }
	recv := func(r *raw) got {
		t.Helper()
		f, we := r.nextEvent(t)
		id, _ := f.field("id")
		if _, ok := f.field("event"); ok {
			t.Errorf("frame has an event: field: %s", f)
		}
		return got{we.Topic, we.Event, string(we.Data), id}
	}
	route := func(from string, c chat.Command) {
		t.Helper()
		if _, _, ferr := chat.Route(e.hub, from, c); ferr != nil {
			t.Fatalf("route: %v", ferr)
		}
	}

	if g := recv(alice); g != (got{"broadcast", "join", `{"client_id":"bob"}`, "broadcast=2,client:alice=0,news=0"}) {
		t.Errorf("alice: bob's join: %+v", g)
	}
	route("bob", chat.Command{Type: chat.CmdPersonal, To: "alice", Message: "psst"})
	if g := recv(alice); g != (got{"client:alice", "message", `{"from":"bob","message":"psst"}`, "broadcast=2,client:alice=1,news=0"}) {
		t.Errorf("alice: personal: %+v", g)
	}
	route("alice", chat.Command{Type: chat.CmdBroadcast, Message: "hi all"})
	for name, r := range map[string]*raw{"alice": alice, "bob": bob} {
		if g := recv(r); g.topic != "broadcast" || g.data != `{"from":"alice","message":"hi all"}` {
			t.Errorf("%s: broadcast: %+v", name, g)
		}
	}
	route("alice", chat.Command{Type: chat.CmdBroadcastExcept, Message: "not me"})
	if g := recv(bob); g.data != `{"from":"alice","message":"not me"}` {
		t.Errorf("bob: broadcast_except: %+v", g)
	}
	e.publish(t, "news", "headline", `{"title":"x"}`)
	// broadcast=3: alice skipped her own broadcast_except (broadcast#4).
	if g := recv(alice); g != (got{"news", "headline", `{"title":"x"}`, "broadcast=3,client:alice=1,news=1"}) {
		t.Errorf("alice: after broadcast_except (which she must not get): %+v", g)
	}
	// Nor does she get it when she resumes from before it.
	again := e.dial(t, "/sse?client_id=alice&topic=news", http.Header{"Last-Event-Id": {"broadcast=3,client:alice=1,news=1"}})
	again.next(t)
	e.publish(t, "news", "headline", `{"title":"y"}`)
	if g := recv(again); g.topic != "news" || g.data != `{"title":"y"}` {
		t.Errorf("alice resumed: got %+v, want the next news event", g)
	}
	recv(alice)
	again.close()

	carol := e.dial(t, "/sse?client_id=carol", nil)
	for name, r := range map[string]*raw{"alice": alice, "bob": bob} {
		if g := recv(r); g.kind != "join" || g.data != `{"client_id":"carol"}` {
			t.Errorf("%s: carol's join: %+v", name, g)
		}
	}
	carol.close()
	for name, r := range map[string]*raw{"alice": alice, "bob": bob} {
		if g := recv(r); g.kind != "leave" || g.data != `{"client_id":"carol"}` {
			t.Errorf("%s: carol's leave: %+v", name, g)
		}
	}
}

// A reconnect with the last id, as header or query parameter, gets every
// later event exactly once, in order, then live events.
func TestResume(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		header      bool
	}{
		{"single-topic/header", "topic=news", true},
		{"single-topic/query", "topic=news", false},
		{"multi-topic/header", "client_id=alice&topic=news", true},
		{"multi-topic/query", "client_id=alice&topic=news", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			r := e.dial(t, "/sse?"+tc.query, nil)
			r.next(t)
			var lastID string
			for i := 1; i <= 3; i++ {
				e.publish(t, "news", "n", fmt.Sprintf(`{"i":%d}`, i))
				f, we := r.nextEvent(t)
				if we.Seq != uint64(i) {
					t.Fatalf("got seq %d, want %d", we.Seq, i)
				}
				lastID, _ = f.field("id")
			}
			r.close()
			for i := 4; i <= 6; i++ {
				e.publish(t, "news", "n", fmt.Sprintf(`{"i":%d}`, i))
			}

			path, hdr := "/sse?"+tc.query, http.Header{}
			if tc.header {
				hdr.Set("Last-Event-ID", lastID)
				path += "&last_event_id=bogus" // the header wins
			} else {
				path += "&last_event_id=" + lastID
			}
			r = e.dial(t, path, hdr)
			if id, _ := r.next(t).field("id"); id != lastID {
				t.Errorf("resumed stream starts at %q, want %q", id, lastID)
			}
			e.publish(t, "news", "n", `{"i":7}`)
			// Per topic: contiguous from the cursor, no duplicate. (A
			// multi-topic stream also gets alice's leave and join.)
			cursors, err := transports.ParseCursors(lastID, map[bool]string{true: "news"}[!strings.Contains(lastID, "=")])
			if err != nil {
				t.Fatal(err)
			}
			for cursors["news"] < 7 {
				_, we := r.nextEvent(t)
				if we.Seq != cursors[we.Topic]+1 {
					t.Fatalf("after resume got %s#%d, want #%d", we.Topic, we.Seq, cursors[we.Topic]+1)
				}
				if we.Topic == "news" && string(we.Data) != fmt.Sprintf(`{"i":%d}`, we.Seq) {
					t.Fatalf("news#%d carries %s", we.Seq, we.Data)
				}
				cursors[we.Topic] = we.Seq
			}
		})
	}
}

// A cursor older than the history yields a reset event with what was lost.
func TestResetWhenCursorTooOld(t *testing.T) {
	e := newEnv(t, envOpts{hub: transports.HubConfig{History: 5}})
	for i := 1; i <= 20; i++ {
		e.publish(t, "news", "n", fmt.Sprintf(`{"i":%d}`, i))
	}
	r := e.dial(t, "/sse?topic=news", http.Header{"Last-Event-Id": {"2"}})
	r.next(t)
	f, we := r.nextEvent(t)
	var rd transports.ResetData
	if err := json.Unmarshal(we.Data, &rd); err != nil {
		t.Fatal(err)
	}
	if id, _ := f.field("id"); we.Event != transports.KindReset || id != "15" || we.Seq != 15 ||
		rd != (transports.ResetData{Reason: transports.ResetHistoryExpired, Cursor: 2, LostFrom: 3, LostTo: 15, FirstAvailable: 16, Latest: 20}) {
		t.Fatalf("first frame after an old cursor: %s", f)
	}
	for i := 16; i <= 20; i++ {
		if _, we := r.nextEvent(t); we.Seq != uint64(i) {
			t.Fatalf("got seq %d, want %d", we.Seq, i)
		}
	}
}

// A task stream: snapshot first, then events, the terminal event last, and
// the response ends; a reconnect after the end gets 204.
func TestTaskStream(t *testing.T) {
	e := newEnv(t, envOpts{})
	topic := taskstream.Topic("t1")
	e.publish(t, topic, taskstream.KindQueued, `{"status":"queued"}`)
	e.publish(t, topic, taskstream.KindProgress, `{"status":"running","progress":10}`)

	r := e.dial(t, "/sse/tasks/t1", nil)
	if hello := r.next(t); fmt.Sprint(hello.lines) != "[retry: 20]" {
		t.Errorf("first frame of a fresh task stream = %s, want only retry: (no position before the snapshot)", hello)
	}
	f, we := r.nextEvent(t)
	if id, _ := f.field("id"); we.Event != transports.KindSnapshot || we.Seq != 2 || id != "2" || string(we.Data) != `{"status":"running","progress":10}` {
		t.Fatalf("first event = %s, want the snapshot at seq 2", f)
	}
	e.publish(t, topic, taskstream.KindProgress, `{"status":"running","progress":50}`)
	done := e.publish(t, topic, taskstream.KindCompleted, `{"status":"completed","progress":100}`)
	for _, want := range []string{taskstream.KindProgress, taskstream.KindCompleted} {
		if _, we := r.nextEvent(t); we.Event != want {
			t.Fatalf("got %s, want %s", we.Event, want)
		}
	}
	if err := cleanEnd(r.end(t)); err != nil {
		t.Fatalf("after the terminal event: %v", err)
	}

	// Reconnect at the end: 204, so that EventSource stops.
	for _, tc := range []struct{ path, header string }{
		{"/sse/tasks/t1", strconv.FormatUint(done.Seq, 10)},
		{"/sse/tasks/t1?last_event_id=4", ""},
	} {
		hdr := http.Header{}
		if tc.header != "" {
			hdr.Set("Last-Event-ID", tc.header)
		}
		res := e.get(t, context.Background(), tc.path, hdr)
		res.Body.Close()
		if res.StatusCode != http.StatusNoContent {
			t.Errorf("%s (Last-Event-ID %q) after the end: %d, want 204", tc.path, tc.header, res.StatusCode)
		}
	}

	// Resume mid-task: the missed events, then the end.
	r = e.dial(t, "/sse/tasks/t1", http.Header{"Last-Event-Id": {"2"}})
	if id, _ := r.next(t).field("id"); id != "2" {
		t.Errorf("resumed task stream starts at %q, want 2", id)
	}
	for _, want := range []uint64{3, 4} {
		if _, we := r.nextEvent(t); we.Seq != want {
			t.Fatalf("got seq %d, want %d", we.Seq, want)
		}
	}
	if err := cleanEnd(r.end(t)); err != nil {
		t.Fatal(err)
	}

	// A new watcher of a finished task gets its final state, then the end.
	r = e.dial(t, "/sse/tasks/t1", nil)
	if _, we := r.nextEvent(t); we.Event != transports.KindSnapshot || we.Seq != 4 || string(we.Data) != string(done.Data) {
		t.Fatalf("finished task: got %s#%d, want snapshot#4", we.Event, we.Seq)
	}
	if err := cleanEnd(r.end(t)); err != nil {
		t.Fatal(err)
	}
}

// Requests that cannot be served get a JSON error and a status that makes
// EventSource give up.
func TestRequestErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.publish(t, taskstream.Topic("known"), taskstream.KindQueued, `{}`)
	for _, tc := range []struct {
		name, method, path, lastID string
		status                     int
		code, field                string
	}{
		{"unknown task", "GET", "/sse/tasks/nope", "", 404, transports.CodeNotFound, ""},
		{"bad task cursor", "GET", "/sse/tasks/known", "abc", 400, transports.CodeInvalidMessage, "last_event_id"},
		{"bad topic", "GET", "/sse?topic=no%20spaces", "", 400, transports.CodeInvalidMessage, "topic"},
		{"no topics", "GET", "/sse", "", 400, transports.CodeInvalidMessage, "topic"},
		{"other's personal topic", "GET", "/sse?client_id=bob&topic=client:alice", "", 400, transports.CodeInvalidMessage, "topic"},
		{"bad cursor", "GET", "/sse?topic=a&topic=b", "17", 400, transports.CodeInvalidMessage, "last_event_id"},
		{"POST", "POST", "/sse/tasks/known", "", 405, transports.CodeInvalidMessage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.ts.URL+tc.path, nil)
			if tc.lastID != "" {
				req.Header.Set("Last-Event-ID", tc.lastID)
			}
			tr := &http.Transport{DisableKeepAlives: true}
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			f := errorBody(t, res)
			if f.Type != transports.TypeError || f.Code != tc.code || f.Message == "" {
				t.Errorf("body %+v, want code %s", f, tc.code)
			}
			if _, ok := f.Fields[tc.field]; tc.field != "" && !ok {
				t.Errorf("fields %v do not name %s", f.Fields, tc.field)
			}
		})
	}
}

// Heartbeats are comment lines, written when the stream is otherwise idle.
func TestHeartbeat(t *testing.T) {
	e := newEnv(t, envOpts{cfg: sse.Config{Heartbeat: 20 * time.Millisecond}})
	r := e.dial(t, "/sse?topic=news", nil)
	r.next(t)
	for range 3 {
		if f := r.next(t); fmt.Sprint(f.lines) != "[: ping]" {
			t.Fatalf("idle stream wrote %s, want a heartbeat comment", f)
		}
	}
}

// Shutdown ends every stream cleanly and waits for the handlers; new
// streams are told to retry later.
func TestShutdown(t *testing.T) {
	e := newEnv(t, envOpts{})
	streams := []*raw{
		e.dial(t, "/sse?topic=news", nil),
		e.dial(t, "/sse?client_id=alice", nil),
	}
	e.publish(t, taskstream.Topic("t"), taskstream.KindQueued, `{}`)
	streams = append(streams, e.dial(t, "/sse/tasks/t", nil))
	for _, r := range streams {
		r.next(t)
	}
	streams[2].nextEvent(t) // the task's snapshot
	e.hub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for i, r := range streams {
		if err := cleanEnd(r.end(t)); err != nil {
			t.Errorf("stream %d: %v", i, err)
		}
	}
	r := e.dial(t, "/sse?topic=news", nil)
	f := r.next(t)
	if _, hasID := f.field("id"); hasID || !strings.Contains(f.String(), `"code":"unavailable"`) {
		t.Errorf("stream request after shutdown: %s, want retry: and an unavailable error frame without id", f)
	}
}

// Shutdown ends streams by itself too, and gives up when ctx ends first.
func TestShutdownWithoutHubClose(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.dial(t, "/sse?topic=news", nil)
	r.next(t)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := cleanEnd(r.end(t)); err != nil {
		t.Fatal(err)
	}
}

// A server-wide WriteTimeout must not cut streams (nor ReadTimeout, which
// net/http lifts for bodiless requests itself), over HTTP/1.1 or HTTP/2
// (where an expired write deadline resets the stream even while idle).
func TestServerTimeoutsDoNotCutStreams(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "http1", true: "http2"}[h2], func(t *testing.T) {
			const short = 100 * time.Millisecond
			e := newEnv(t, envOpts{
				cfg: sse.Config{Heartbeat: time.Hour, WriteTimeout: short},
				server: func(s *http.Server) {
					s.WriteTimeout = short
					s.ReadTimeout = short
				},
				http2: h2,
			})
			r := e.dial(t, "/sse?topic=news", nil)
			if r.res.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
				t.Fatalf("served over %s", r.res.Proto)
			}
			r.next(t)
			for i := range 2 {
				// Server-wide and per-batch deadlines pass while the stream is idle.
				time.Sleep(5 * short)
				ev := e.publish(t, "news", "n", `{}`)
				if f, we := r.nextEvent(t); we.Seq != ev.Seq {
					t.Fatalf("event %d: got %s", i, f)
				}
			}
		})
	}
}

// RetrySpread spreads retry: per response within its bounds, so that a
// mass disconnect does not come back in one wave.
func TestRetrySpread(t *testing.T) {
	e := newEnv(t, envOpts{cfg: sse.Config{Retry: time.Second, RetrySpread: 0.5}})
	seen := map[string]bool{}
	for range 20 {
		r := e.dial(t, "/sse?topic=news", nil)
		f := r.next(t)
		v, _ := f.field("retry")
		ms, err := strconv.Atoi(v)
		if err != nil || ms < 500 || ms > 1500 {
			t.Fatalf("retry: %q, want 500..1500 ms", v)
		}
		seen[v] = true
		r.close()
	}
	if len(seen) < 5 {
		t.Fatalf("20 responses announced only %d distinct retry: values", len(seen))
	}
}
