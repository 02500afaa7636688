package ws_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/streamtest"
	"github.com/twinstream/twinstream/transports/ws"
)

// newSilentServer upgrades every request, sends one event (seq = the
// connection's number) and then nothing at all: no heartbeat, no close.
func newSilentServer(t *testing.T) *streamtest.Silent {
	return streamtest.NewSilent(t, false, func(s *streamtest.Silent, w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		n := s.Connected(r.URL.Query().Get("last_event_id"))
		if err := c.Write(r.Context(), websocket.MessageText, []byte(streamtest.SilentEvent(n))); err != nil {
			return
		}
		// Reading sends nothing; it returns when the client goes away.
		_, _, _ = c.Read(context.Background())
	})
}

// A server that falls silent is dropped after IdleTimeout and the client
// reconnects, resuming from the last event; with IdleTimeout negative the
// client keeps waiting.
func TestClientIdleTimeoutReconnects(t *testing.T) {
	s := newSilentServer(t)
	url := "ws" + s.URL[len("http"):] + "/ws/tasks/1"

	var rec, recOff recorder
	cfg := rec.config(url)
	cfg.IdleTimeout = 300 * time.Millisecond
	c := ws.NewClient(cfg)
	cfgOff := recOff.config(url)
	cfgOff.IdleTimeout = -1
	off := ws.NewClient(cfgOff)
	streamtest.Run(t, off.Run)
	streamtest.WaitFor(t, "the disabled client's first event", func() bool { return len(recOff.Seqs("task:1")) == 1 })
	r := streamtest.Run(t, c.Run)

	streamtest.WaitFor(t, "two idle reconnects", func() bool { return c.Stats().Reconnects >= 2 })
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != st.Reconnects+1 || st.Events < 2 {
		t.Errorf("stats %+v", st)
	}
	// The client connected second (the disabled one first, with no
	// cursor): its first connection has no cursor, and each later one
	// resumes from the seq the previous connection delivered.
	s.CheckResumed(t)
	if st := off.Stats(); st.Connects != 1 || st.Reconnects != 0 {
		t.Errorf("the client without IdleTimeout reconnected: %+v", st)
	}
}

// A server that accepts the TCP connection but never answers the handshake
// is given up on after IdleTimeout too.
func TestClientIdleTimeoutHandshake(t *testing.T) {
	m := streamtest.NewMute(t)
	var rec recorder
	cfg := rec.config("ws://" + m.Addr() + "/ws/tasks/1")
	cfg.IdleTimeout = 300 * time.Millisecond
	c := ws.NewClient(cfg)
	r := streamtest.Run(t, c.Run)
	first := m.Next(t, "the client never connected")
	// The client hangs up and dials again.
	streamtest.HangsUp(t, first, "the handshake")
	m.Next(t, "the client did not dial again").Close()
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
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
	streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "attached", func() bool { return len(c.Cursors()) == 1 })
	time.Sleep(1200 * time.Millisecond) // four IdleTimeouts of heartbeats only
	streamtest.Publish(t, e.hub, "news", "tick", `{}`)
	streamtest.WaitFor(t, "event", func() bool { return len(rec.Seqs("news")) == 1 })
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
				pctx, cancel := context.WithTimeout(ctx, streamtest.Wait)
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
	r := streamtest.Run(t, c.Run)
	streamtest.WaitFor(t, "connect", func() bool { return c.Stats().Connects == 1 })
	time.Sleep(1200 * time.Millisecond)
	if err := r.Stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
	if st := c.Stats(); st.Connects != 1 || st.Reconnects != 0 || st.Bytes != 0 {
		t.Errorf("stats %+v: want one connection kept alive by protocol pings", st)
	}
}
