package ws_test

import (
	"context"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

// noPong makes a coder/websocket client ignore protocol pings, as a dead or
// frozen peer would.
func noPong(context.Context, []byte) bool { return false }

func TestHeartbeat(t *testing.T) {
	// Loose enough for a loaded CI machine: a stall under 2s is no timeout.
	cfg := ws.Config{Heartbeat: 100 * time.Millisecond, IdleTimeout: 2 * time.Second}

	t.Run("silent peer is closed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cfg, transports.HubConfig{})
		c := e.dial(t, "/ws?topic=news", &websocket.DialOptions{OnPingReceived: noPong})
		pings := 0
		for {
			f, err := c.tryRead()
			if err != nil {
				if code := websocket.CloseStatus(err); code != websocket.StatusCode(transports.ReasonIdleTimeout.WSStatus) {
					t.Fatalf("closed with %v, want 4000", err)
				}
				break
			}
			if f.Type == transports.TypePing {
				if f.TS == 0 {
					t.Fatalf("ping without ts: %s", f)
				}
				pings++
			}
		}
		if pings == 0 {
			t.Fatal("no app-level ping before the idle close")
		}
	})

	// A peer stays as long as it answers either heartbeat: protocol pongs
	// (what browsers send by themselves) or app-level pongs.
	alive := func(t *testing.T, opts *websocket.DialOptions, answer bool) {
		e := newEnv(t, cfg, transports.HubConfig{})
		c := e.dial(t, "/ws?topic=news", opts)
		c.subscribed("news")
		// 30 heartbeats outlast the idle timeout.
		for pings := 0; pings < 30; {
			f := c.read()
			if f.Type != transports.TypePing {
				t.Fatalf("got %s", f)
			}
			pings++
			if answer {
				c.send(`{"type":"pong","ts":` + itoa(f.TS) + `}`)
			}
		}
		e.publish(t, "news", "tick", `{}`)
		if f := c.event(); f.Seq != 1 {
			t.Fatalf("got %s", f)
		}
	}
	t.Run("protocol pongs keep a peer", func(t *testing.T) {
		t.Parallel()
		alive(t, nil, false)
	})
	t.Run("app pongs keep a peer", func(t *testing.T) {
		t.Parallel()
		alive(t, &websocket.DialOptions{OnPingReceived: noPong}, true)
	})
}
