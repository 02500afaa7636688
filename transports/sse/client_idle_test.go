package sse_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports/sse"
)

// silentServer answers every request with a stream that sends retry: and
// one event (seq and id = the request's number), and then nothing at all.
type silentServer struct {
	ts   *httptest.Server
	quit chan struct{}

	mu     sync.Mutex
	resume []string // Last-Event-ID of every request, in order
}

// newSilentServer serves HTTP/1.1, or HTTP/2 over TLS with http2.
func newSilentServer(t *testing.T, http2 bool) *silentServer {
	t.Helper()
	s := &silentServer{quit: make(chan struct{})}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.resume = append(s.resume, r.Header.Get("Last-Event-ID"))
		n := len(s.resume)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "retry: 10\nid: %d\ndata: {\"type\":\"event\",\"topic\":\"task:1\",\"seq\":%d,\"event\":\"progress\",\"ts\":1,\"data\":{}}\n\n", n, n)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done(): // the client hung up
		case <-s.quit:
		}
	}))
	if http2 {
		s.ts.EnableHTTP2 = true
		s.ts.StartTLS()
	} else {
		s.ts.Start()
	}
	t.Cleanup(func() { // after the clients' cleanups: they stop first
		close(s.quit)
		s.ts.Close()
	})
	return s
}

func (s *silentServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.resume)
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
	url := s.ts.URL + "/sse/tasks/1"
	hc := &http.Client{Transport: &http.Transport{}}
	if http2 {
		hc = s.ts.Client() // closed with the server
	} else {
		defer hc.CloseIdleConnections()
	}

	var rec, recOff recorder
	cfgOff := recOff.config(url)
	cfgOff.IdleTimeout = -1
	cfgOff.HTTPClient = hc
	off := sse.NewClient(cfgOff)
	offRun := run(t, off)
	defer offRun.stop()
	eventually(t, "the disabled client's first event", func() bool { return len(recOff.seqs("task:1")) == 1 })
	cfg := rec.config(url)
	cfg.IdleTimeout = 300 * time.Millisecond
	cfg.HTTPClient = hc
	c := sse.NewClient(cfg)
	r := run(t, c)

	eventually(t, "two idle reconnects", func() bool { return c.Stats().Reconnects >= 2 })
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != st.Reconnects+1 || st.Events != st.Connects {
		t.Errorf("stats %+v", st)
	}
	// The disabled client asked first, then this one without a cursor;
	// each later request resumes from the id the previous one delivered.
	reqs := s.requests()
	if len(reqs) < 4 || reqs[0] != "" || reqs[1] != "" {
		t.Fatalf("Last-Event-ID of the requests: %q", reqs)
	}
	for i := 2; i < len(reqs); i++ {
		if want := fmt.Sprint(i); reqs[i] != want {
			t.Errorf("request %d resumed from %q, want %q (all: %q)", i+1, reqs[i], want, reqs)
		}
	}
	if st := off.Stats(); st.Connects != 1 || st.Reconnects != 0 {
		t.Errorf("the client without IdleTimeout reconnected: %+v", st)
	}
}

// A server that accepts the TCP connection but never answers the request
// is given up on after IdleTimeout too.
func TestClientIdleTimeoutHeaders(t *testing.T) {
	accepts := make(chan net.Conn, 16)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case accepts <- conn:
			default:
				conn.Close()
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		close(accepts)
		for conn := range accepts {
			conn.Close()
		}
	})

	var rec recorder
	cfg := rec.config("http://" + ln.Addr().String() + "/sse/tasks/1")
	cfg.IdleTimeout = 300 * time.Millisecond
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cfg.HTTPClient = &http.Client{Transport: tr}
	c := sse.NewClient(cfg)
	r := run(t, c)
	var first net.Conn
	select {
	case first = <-accepts:
	case <-time.After(wait):
		t.Fatal("the client never connected")
	}
	defer first.Close()
	// The client hangs up and asks again.
	_ = first.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 4<<10)
	if _, err := first.Read(buf); err != nil {
		t.Fatalf("reading the request: %v", err)
	}
	for {
		if _, err := first.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the client kept waiting for the response")
			}
			break
		}
	}
	select {
	case second := <-accepts:
		second.Close()
	case <-time.After(wait):
		t.Fatal("the client did not ask again")
	}
	if err := r.stop(); !errors.Is(err, context.Canceled) {
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
	run(t, c)
	eventually(t, "connect", func() bool { return c.Stats().Connects == 1 })
	time.Sleep(1200 * time.Millisecond) // four IdleTimeouts of heartbeats only
	e.publish(t, "news", "tick", `{}`)
	eventually(t, "event", func() bool { return len(rec.seqs("news")) == 1 })
	if st := c.Stats(); st.Connects != 1 || st.Reconnects != 0 || st.Pings < 3 {
		t.Errorf("stats %+v: want one stream kept alive by heartbeats", st)
	}
	if hdrs := e.headers(); len(hdrs) != 1 {
		t.Errorf("%d requests, want 1", len(hdrs))
	}
}
