package ws_test

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

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

// silentServer upgrades every request, sends one event (seq = the
// connection's number) and then nothing at all: no heartbeat, no close.
type silentServer struct {
	ts *httptest.Server

	mu      sync.Mutex
	cursors []string // last_event_id of every connection, in order
}

func newSilentServer(t *testing.T) *silentServer {
	t.Helper()
	s := &silentServer{}
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		s.mu.Lock()
		s.cursors = append(s.cursors, r.URL.Query().Get("last_event_id"))
		n := len(s.cursors)
		s.mu.Unlock()
		ev := fmt.Sprintf(`{"type":"event","topic":"task:1","seq":%d,"event":"progress","ts":1,"data":{}}`, n)
		if err := c.Write(r.Context(), websocket.MessageText, []byte(ev)); err != nil {
			return
		}
		// Reading sends nothing; it returns when the client goes away.
		_, _, _ = c.Read(context.Background())
	}))
	t.Cleanup(s.ts.Close) // after the clients' cleanups: they stop first
	return s
}

func (s *silentServer) connections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.cursors)
}

// A server that falls silent is dropped after IdleTimeout and the client
// reconnects, resuming from the last event; with IdleTimeout negative the
// client keeps waiting.
func TestClientIdleTimeoutReconnects(t *testing.T) {
	s := newSilentServer(t)
	url := "ws" + s.ts.URL[len("http"):] + "/ws/tasks/1"

	var rec, recOff recorder
	cfg := rec.config(url)
	cfg.IdleTimeout = 300 * time.Millisecond
	c := ws.NewClient(cfg)
	cfgOff := recOff.config(url)
	cfgOff.IdleTimeout = -1
	off := ws.NewClient(cfgOff)
	run(t, off)
	waitFor(t, "the disabled client's first event", func() bool { return len(recOff.seqs("task:1")) == 1 })
	r := run(t, c)

	waitFor(t, "two idle reconnects", func() bool { return c.Stats().Reconnects >= 2 })
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != st.Reconnects+1 || st.Events < 2 {
		t.Errorf("stats %+v", st)
	}
	// The client connected second (the disabled one first, with no
	// cursor): its first connection has no cursor, and each later one
	// resumes from the seq the previous connection delivered.
	conns := s.connections()
	if len(conns) < 4 || conns[0] != "" || conns[1] != "" {
		t.Fatalf("last_event_id of the connections: %q", conns)
	}
	for i := 2; i < len(conns); i++ {
		if want := fmt.Sprint(i); conns[i] != want {
			t.Errorf("connection %d resumed from %q, want %q (all: %q)", i+1, conns[i], want, conns)
		}
	}
	if st := off.Stats(); st.Connects != 1 || st.Reconnects != 0 {
		t.Errorf("the client without IdleTimeout reconnected: %+v", st)
	}
}

// A server that accepts the TCP connection but never answers the handshake
// is given up on after IdleTimeout too.
func TestClientIdleTimeoutHandshake(t *testing.T) {
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
	cfg := rec.config("ws://" + ln.Addr().String() + "/ws/tasks/1")
	cfg.IdleTimeout = 300 * time.Millisecond
	c := ws.NewClient(cfg)
	r := run(t, c)
	var first net.Conn
	select {
	case first = <-accepts:
	case <-time.After(wait):
		t.Fatal("the client never connected")
	}
	defer first.Close()
	// The client hangs up and dials again.
	_ = first.SetReadDeadline(time.Now().Add(wait))
	if _, err := first.Read(make([]byte, 4<<10)); err != nil {
		t.Fatalf("reading the handshake request: %v", err)
	}
	for {
		if _, err := first.Read(make([]byte, 4<<10)); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the client kept waiting for the handshake")
			}
			break
		}
	}
	select {
	case second := <-accepts:
		second.Close()
	case <-time.After(wait):
		t.Fatal("the client did not dial again")
	}
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != 0 {
		t.Errorf("stats %+v: no handshake ever completed", st)
	}
}

// Heartbeats keep a quiet connection alive: with the server's heartbeat
// well inside IdleTimeout, the client never reconnects.
func TestClientIdleTimeoutHeartbeatsKeepAlive(t *testing.T) {
	e := newEnv(t, ws.Config{Heartbeat: 50 * time.Millisecond}, transports.HubConfig{})
	var rec recorder
	cfg := rec.config(e.url + "/ws?topic=news")
	cfg.IdleTimeout = 300 * time.Millisecond
	c := ws.NewClient(cfg)
	run(t, c)
	waitFor(t, "attached", func() bool { return len(c.Cursors()) == 1 })
	time.Sleep(1200 * time.Millisecond) // four IdleTimeouts of heartbeats only
	e.publish(t, "news", "tick", `{}`)
	waitFor(t, "event", func() bool { return len(rec.seqs("news")) == 1 })
	if st := c.Stats(); st.Connects != 1 || st.Reconnects != 0 || st.Pings < 3 {
		t.Errorf("stats %+v: want one connection kept alive by heartbeats", st)
	}
}

// Protocol pings alone keep a connection alive: they never surface from
// the client's reads, yet they are activity.
func TestClientIdleTimeoutProtocolPings(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := c.CloseRead(context.Background()) // reads pongs; done when the client leaves
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				pctx, cancel := context.WithTimeout(ctx, wait)
				err := c.Ping(pctx)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(ts.Close)
	var rec recorder
	cfg := rec.config("ws" + ts.URL[len("http"):] + "/ws/tasks/1")
	cfg.IdleTimeout = 300 * time.Millisecond
	c := ws.NewClient(cfg)
	r := run(t, c)
	waitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })
	time.Sleep(1200 * time.Millisecond)
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != 1 || st.Reconnects != 0 || st.Bytes != 0 {
		t.Errorf("stats %+v: want one connection kept alive by protocol pings", st)
	}
}
