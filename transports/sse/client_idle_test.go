package sse_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports/internal/streamtest"
	"github.com/twinstream/twinstream/transports/sse"
)

// newSilentServer answers every request with a stream that sends retry:
// and one event (seq and id = the request's number), and then nothing at
// all; over HTTP/2 with TLS with http2.
func newSilentServer(t *testing.T, http2 bool) *streamtest.Silent {
	return streamtest.NewSilent(t, http2, func(s *streamtest.Silent, w http.ResponseWriter, r *http.Request) {
		n := s.Connected(r.Header.Get("Last-Event-ID"))
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "retry: 10\nid: %d\ndata: %s\n\n", n, streamtest.SilentEvent(n))
		w.(http.Flusher).Flush()
		s.Hold(r) // until the client hangs up
	})
}

// A server that falls silent is dropped after IdleTimeout and the client
// reconnects with Last-Event-ID; with IdleTimeout negative the client
// keeps waiting. Over HTTP/2 both clients share one connection: the idle
// one resets its own stream only.
func TestClientIdleTimeoutReconnects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		http2 bool
	}{{"http1", false}, {"http2", true}} {
		t.Run(tc.name, func(t *testing.T) { testIdleReconnects(t, tc.http2) })
	}
}

func testIdleReconnects(t *testing.T, http2 bool) {
	s := newSilentServer(t, http2)
	url := s.URL + "/sse/tasks/1"
	hc := &http.Client{Transport: &http.Transport{}}
	if http2 {
		hc = s.Client() // closed with the server
	} else {
		defer hc.CloseIdleConnections()
	}

	var rec, recOff recorder
	cfgOff := recOff.config(url)
	cfgOff.IdleTimeout = -1
	cfgOff.HTTPClient = hc
	off := sse.NewClient(cfgOff)
	offRun := streamtest.Run(t, off.Run)
	defer offRun.Stop()
	streamtest.WaitFor(t, "the disabled client's first event", func() bool { return len(recOff.Seqs("task:1")) == 1 })
	cfg := rec.config(url)
	cfg.IdleTimeout = 300 * time.Millisecond
	cfg.HTTPClient = hc
	c := sse.NewClient(cfg)
	r := streamtest.Run(t, c.Run)

	streamtest.WaitFor(t, "two idle reconnects", func() bool { return c.Stats().Reconnects >= 2 })
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != st.Reconnects+1 || st.Events != st.Connects {
		t.Errorf("stats %+v", st)
	}
	// The disabled client asked first, then this one without a cursor;
	// each later request resumes from the id the previous one delivered.
	s.CheckResumed(t)
	if st := off.Stats(); st.Connects != 1 || st.Reconnects != 0 {
		t.Errorf("the client without IdleTimeout reconnected: %+v", st)
	}
}

// A server that accepts the TCP connection but never answers the request
// is given up on after IdleTimeout too.
func TestClientIdleTimeoutHeaders(t *testing.T) {
	m := streamtest.NewMute(t)
	var rec recorder
	cfg := rec.config("http://" + m.Addr() + "/sse/tasks/1")
	cfg.IdleTimeout = 300 * time.Millisecond
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cfg.HTTPClient = &http.Client{Transport: tr}
	c := sse.NewClient(cfg)
	r := streamtest.Run(t, c.Run)
	first := m.Next(t, "the client never connected")
	// The client hangs up and asks again.
	streamtest.HangsUp(t, first, "the response")
	m.Next(t, "the client did not ask again").Close()
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != 0 {
		t.Errorf("stats %+v: no stream ever opened", st)
	}
}

// Heartbeats keep a quiet stream alive: with the server's heartbeat well
// inside IdleTimeout, the client never reconnects.
func TestClientIdleTimeoutHeartbeatsKeepAlive(t *testing.T) {
	e := newEnv(t, envOpts{cfg: sse.Config{Heartbeat: 50 * time.Millisecond}})
	var rec recorder
	cfg := rec.config(e.ts.URL + "/sse?topic=news")
	cfg.IdleTimeout = 300 * time.Millisecond
	c := sse.NewClient(cfg)
	streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })
	time.Sleep(1200 * time.Millisecond) // four IdleTimeouts of heartbeats only
	streamtest.Publish(t, e.hub, "news", "tick", `{}`)
	streamtest.WaitFor(t, "event", func() bool { return len(rec.Seqs("news")) == 1 })
	if st := c.Stats(); st.Connects != 1 || st.Reconnects != 0 || st.Pings < 3 {
		t.Errorf("stats %+v: want one stream kept alive by heartbeats", st)
	}
	if hdrs := e.headers(); len(hdrs) != 1 {
		t.Errorf("%d requests, want 1", len(hdrs))
	}
}
