package sse_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/streamtest"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// recorder collects what a Go client receives.
type recorder struct {
	streamtest.Recorder[sse.ClientState]
}

// config is a ClientConfig for url that reports to r and reconnects fast.
func (r *recorder) config(url string) sse.ClientConfig {
	return sse.ClientConfig{URL: url, Backoff: streamtest.Backoff,
		OnEvent: r.OnEvent, OnControl: r.OnControl, OnState: r.OnState}
}

// An admin drop ends the streams; the Go client reconnects with
// Last-Event-ID and loses nothing.
func TestClientResumesAfterDrops(t *testing.T) {
	e := newEnv(t, envOpts{})
	var rec recorder
	c := sse.NewClient(func() sse.ClientConfig {
		cc := rec.config(e.ts.URL + "/sse?client_id=alice")
		cc.Topics = []string{"news"}
		return cc
	}())
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })

	const n = 300
	for i := 1; i <= n; i++ {
		streamtest.Publish(t, e.hub, "news", "n", fmt.Sprintf(`{"i":%d}`, i))
		if i%100 == 0 && i < n {
			if got := e.hub.DropAll(sse.Transport); got != 1 {
				t.Fatalf("DropAll dropped %d streams, want 1", got)
			}
			want := uint64(i / 100)
			streamtest.WaitFor(t, "reconnect", func() bool { return c.Stats().Reconnects == want })
		}
	}
	streamtest.WaitFor(t, "every event", func() bool { return len(rec.Seqs("news")) >= n })
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run after cancel = %v, want context.Canceled", err)
	}
	if err := streamtest.Contiguous(rec.Seqs("news"), 1, n); err != nil {
		t.Error(err)
	}
	st := c.Stats()
	if st.Connects != 3 || st.Reconnects != 2 || st.Events < n || st.Bytes == 0 || st.Resets != 0 {
		t.Errorf("stats %+v", st)
	}
	// Every reconnect resumed from a composite cursor.
	hdrs := e.headers()
	if len(hdrs) != 3 || hdrs[0] != "" || !strings.Contains(hdrs[1], ",news=") || !strings.Contains(hdrs[2], ",news=") {
		t.Errorf("Last-Event-ID headers %q", hdrs)
	}
	states := rec.States()
	want := []sse.ClientState{sse.StateConnecting, sse.StateOpen, sse.StateWaiting, sse.StateOpen, sse.StateWaiting, sse.StateOpen, sse.StateClosed}
	if !slices.Equal(states, want) {
		t.Errorf("states %v, want %v", states, want)
	}
}

// A task stream: the client sees snapshot, events and the terminal event;
// its reconnect gets 204 and Run returns nil.
func TestClientTaskStreamEnds(t *testing.T) {
	e := newEnv(t, envOpts{})
	topic := taskstream.Topic("t1")
	streamtest.Publish(t, e.hub, topic, taskstream.KindQueued, `{"status":"queued"}`)
	var rec recorder
	c := sse.NewClient(rec.config(e.ts.URL + "/sse/tasks/t1"))
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "snapshot", func() bool { return len(rec.Seqs(topic)) == 1 })
	streamtest.Publish(t, e.hub, topic, taskstream.KindProgress, `{"status":"running"}`)
	streamtest.Publish(t, e.hub, topic, taskstream.KindCompleted, `{"status":"completed"}`)
	if err := r.Result(t); err != nil {
		t.Fatalf("Run = %v, want nil after 204", err)
	}
	if kinds := fmt.Sprint(rec.Kinds()); kinds != "[snapshot:1 progress:2 completed:3]" {
		t.Errorf("events %v", kinds)
	}
	if st := c.Stats(); st.Connects != 1 || st.Reconnects != 0 || st.Events != 3 {
		t.Errorf("stats %+v", st)
	}
	if hdrs := e.headers(); fmt.Sprint(hdrs) != "[ 3]" {
		t.Errorf("Last-Event-ID headers %q, want none then 3", hdrs)
	}
}

// Answers that are not streams end Run with a *StatusError.
func TestClientErrors(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/sse/tasks/nope", 404, transports.CodeNotFound},
		{"/sse", 400, transports.CodeInvalidMessage},
	} {
		var rec recorder
		err := sse.NewClient(rec.config(e.ts.URL + tc.path)).Run(context.Background())
		var se *sse.StatusError
		if !errors.As(err, &se) || se.StatusCode != tc.status || se.Frame.Code != tc.code {
			t.Errorf("%s: Run = %v, want status %d code %s", tc.path, err, tc.status, tc.code)
		}
		if states := rec.States(); !slices.Equal(states, []sse.ClientState{sse.StateConnecting, sse.StateClosed}) {
			t.Errorf("%s: states %v", tc.path, states)
		}
	}
	if err := sse.NewClient(sse.ClientConfig{URL: "http://[::1"}).Run(context.Background()); err == nil {
		t.Error("a bad URL did not fail")
	}
}

// 5xx answers are retried with backoff; the new connection resumes from
// the last id (carried as last_event_id, since go-sse's Last-Event-ID
// belongs to the connection that failed).
func TestClientRetriesUnavailable(t *testing.T) {
	e := newEnv(t, envOpts{})
	var fail atomic.Int32
	var queries []string
	var mu sync.Mutex
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if fail.Add(-1) >= 0 {
			http.Error(w, `{"type":"error","code":"unavailable","message":"try later"}`, http.StatusServiceUnavailable)
			return
		}
		e.srv.ServeHTTP(w, r)
	}))
	defer front.Close()

	var rec recorder
	c := sse.NewClient(rec.config(front.URL + "/sse?topic=news"))
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })
	streamtest.Publish(t, e.hub, "news", "n", `{}`)
	streamtest.WaitFor(t, "event 1", func() bool { return len(rec.Seqs("news")) == 1 })
	fail.Store(2)
	e.hub.DropAll(sse.Transport)
	streamtest.Publish(t, e.hub, "news", "n", `{}`)
	streamtest.WaitFor(t, "reconnect", func() bool { return c.Stats().Reconnects == 1 })
	streamtest.Publish(t, e.hub, "news", "n", `{}`)
	streamtest.WaitFor(t, "event 3", func() bool { return len(rec.Seqs("news")) >= 3 })
	r.Stop()
	if err := streamtest.Contiguous(rec.Seqs("news"), 1, 3); err != nil {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(queries) != 4 || queries[3] != "last_event_id=1&topic=news" {
		t.Errorf("request queries %q", queries)
	}
}

// The server's retry: replaces the client's initial backoff, as in a
// browser: with a one-minute Initial, the reconnect after a drop still
// comes after about the server's 20ms.
func TestClientHonoursServerRetry(t *testing.T) {
	e := newEnv(t, envOpts{cfg: sse.Config{Retry: 20 * time.Millisecond}})
	var rec recorder
	cfg := rec.config(e.ts.URL + "/sse?topic=news")
	cfg.Backoff = transports.Backoff{Initial: time.Minute, Max: time.Hour, Jitter: -1}
	c := sse.NewClient(cfg)
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })
	e.hub.DropAll(sse.Transport)
	streamtest.WaitFor(t, "reconnect at the server's retry:", func() bool { return c.Stats().Reconnects == 1 })
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
}

// Heartbeat comments are counted as pings.
func TestClientCountsHeartbeats(t *testing.T) {
	e := newEnv(t, envOpts{cfg: sse.Config{Heartbeat: 10 * time.Millisecond}})
	var rec recorder
	c := sse.NewClient(rec.config(e.ts.URL + "/sse?topic=news"))
	_ = streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "pings", func() bool { return c.Stats().Pings >= 3 })
	if st := c.Stats(); st.Bytes < st.Pings*uint64(len(": ping\n\n")) {
		t.Errorf("stats %+v: fewer bytes than the pings take", st)
	}
}

// Over a connection limit the stream answers 200 with retry: and an error
// frame without id, then ends; a client that retries gets in once a slot
// frees.
func TestConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		limiter   *transports.Limiter
		otherIPOK bool // a connection from 127.0.0.2 is accepted
	}{
		{"global", transports.NewLimiter(1, 0), false},
		{"per-ip", transports.NewLimiter(0, 1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOpts{cfg: sse.Config{Limiter: tc.limiter}})
			first := e.dial(t, "/sse?topic=news", nil)
			first.next(t)

			over := e.dial(t, "/sse?topic=news", nil)
			f := over.next(t)
			data, _ := f.field("data")
			if _, hasID := f.field("id"); hasID || !strings.HasPrefix(f.lines[0], "retry: ") ||
				!strings.Contains(data, `"type":"error","code":"too_many_connections"`) {
				t.Errorf("over the limit: %s, want retry: and a too_many_connections error frame without id", f)
			}
			if err := cleanEnd(over.end(t)); err != nil {
				t.Error(err)
			}

			// The documented way to bind a source address.
			tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}
			defer tr.CloseIdleConnections()
			var other recorder
			oc := other.config(e.ts.URL + "/sse?topic=news")
			oc.HTTPClient = &http.Client{Transport: tr}
			otherClient := sse.NewClient(oc)
			otherRun := streamtest.Run(t, otherClient.Run)
			streamtest.WaitFor(t, "other IP's first answer", func() bool {
				st := otherClient.Stats()
				return st.Connects+st.Refused > 0
			})
			if got := otherClient.Stats().Connects == 1; got != tc.otherIPOK {
				t.Errorf("127.0.0.2 accepted = %v, want %v (stats %+v)", got, tc.otherIPOK, otherClient.Stats())
			}
			otherRun.Stop()

			var rec recorder
			c := sse.NewClient(rec.config(e.ts.URL + "/sse?topic=news"))
			r := streamtest.Run(t, c.Run)
			streamtest.WaitFor(t, "refusal", func() bool { return c.Stats().Refused >= 1 })
			if st := c.Stats(); st.Connects != 0 {
				t.Fatalf("a refused client counts as connected: %+v", st)
			}
			first.close()
			streamtest.WaitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })
			ev := streamtest.Publish(t, e.hub, "news", "n", `{}`)
			streamtest.WaitFor(t, "event", func() bool { return slices.Equal(rec.Seqs("news"), []uint64{ev.Seq}) })
			r.Stop()
			controls := rec.Controls()
			if len(controls) == 0 || !strings.Contains(controls[0], "too_many_connections") {
				t.Errorf("controls %q, want the too_many_connections frame", controls)
			}
		})
	}
}

// A client that never reads fills its queue and is cut off; it never delays
// a fast client, which gets every event without being dropped.
func TestSlowClientDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, envOpts{
		hub: transports.HubConfig{QueueSize: 16, History: 5000},
		cfg: sse.Config{WriteTimeout: time.Second},
	})
	slow, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "GET /sse?topic=news HTTP/1.1\r\nHost: test\r\n\r\n") // and never read
	streamtest.WaitFor(t, "slow client attached", func() bool { return e.hub.Stats().Connections[sse.Transport] == 1 })

	var rec recorder
	fast := sse.NewClient(rec.config(e.ts.URL + "/sse?topic=news"))
	r := streamtest.Run(t, fast.Run)
	streamtest.WaitFor(t, "fast client attached", func() bool { return fast.Stats().Connects == 1 })

	data := fmt.Sprintf(`{"pad":%q}`, strings.Repeat("x", 16<<10))
	n := 0
	for e.hub.Stats().SlowClosed == 0 {
		if n == 4000 {
			t.Fatal("the slow client was never cut off")
		}
		streamtest.Publish(t, e.hub, "news", "n", data)
		n++
		if n%8 == 0 { // the fast client keeps pace, whatever the slow one does
			streamtest.WaitFor(t, "fast client keeps up", func() bool { return len(rec.Seqs("news")) == n })
		}
	}
	for range 10 {
		streamtest.Publish(t, e.hub, "news", "n", data)
		n++
	}
	streamtest.WaitFor(t, "fast client gets everything", func() bool { return len(rec.Seqs("news")) == n })
	r.Stop()
	if err := streamtest.Contiguous(rec.Seqs("news"), 1, uint64(n)); err != nil {
		t.Error(err)
	}
	if st := fast.Stats(); st.Reconnects != 0 {
		t.Errorf("the fast client was dropped: %+v", st)
	}
	if got := e.hub.Stats().SlowClosed; got != 1 {
		t.Errorf("SlowClosed = %d, want 1", got)
	}
	// The server closes the slow connection (after its write deadline).
	_ = slow.SetReadDeadline(time.Now().Add(streamtest.Wait))
	buf := make([]byte, 64<<10)
	for {
		if _, err := slow.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the slow connection is still open")
			}
			break
		}
	}
}
