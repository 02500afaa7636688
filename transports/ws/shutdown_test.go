package ws_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

func TestShutdown(t *testing.T) {
	for _, viaHub := range []bool{false, true} {
		name := "Server.Shutdown alone"
		if viaHub {
			name = "Hub.Close then Server.Shutdown"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, ws.Config{}, transports.HubConfig{})
			e.addTask("1")
			progress(t, e, "1", taskstream.KindProgress, 50)
			task := e.dial(t, "/ws/tasks/1", nil)
			task.event()
			alice := e.dial(t, "/ws?client_id=alice", nil)
			alice.subscribed("client:alice", "broadcast")
			news := e.dial(t, "/ws?topic=news", nil)
			news.subscribed("news")
			waitFor(t, "attached", func() bool { return e.hub.Stats().Connections[ws.Transport] == 3 })

			if viaHub {
				e.hub.Close()
			}
			// Clients read concurrently: Shutdown waits for the close
			// handshakes, which need them.
			codes := make(chan websocket.StatusCode, 3)
			for _, c := range []*raw{task, alice, news} {
				go func() { // owner: this test; ends when c's connection closes, which Shutdown makes it do
					for {
						if _, err := c.tryRead(); err != nil {
							codes <- websocket.CloseStatus(err)
							return
						}
					}
				}()
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			if err := e.srv.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			// Every handler has returned: the hub has no ws connection left.
			if n := e.hub.Stats().Connections[ws.Transport]; n != 0 {
				t.Fatalf("%d connections still registered after Shutdown", n)
			}
			for range 3 {
				if code := <-codes; code != websocket.StatusGoingAway {
					t.Fatalf("closed with %v, want 1001", code)
				}
			}
			// Later connections are refused.
			_, resp, err := e.tryDial("/ws?topic=news", nil)
			if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("after Shutdown: %v %v, want 503", resp, err)
			}
		})
	}
}

// Shutdown with an expired context closes the sockets at once and still
// waits for the handlers.
func TestShutdownDeadline(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	c := e.dial(t, "/ws?topic=news", nil) // never reads: no close handshake
	_ = c
	waitFor(t, "attached", func() bool { return e.hub.Stats().Connections[ws.Transport] == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.srv.Shutdown(ctx); err != context.Canceled {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	if n := e.hub.Stats().Connections[ws.Transport]; n != 0 {
		t.Fatalf("%d connections still registered after Shutdown", n)
	}
}

// With Detach the handler returns right after the upgrade; the connection
// lives on, and Shutdown still waits for it.
func TestDetach(t *testing.T) {
	e := newEnv(t, ws.Config{Detach: true}, transports.HubConfig{})
	returned := make(chan struct{}, 4)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.srv.ServeHTTP(w, r)
		returned <- struct{}{}
	}))
	defer ts.Close()
	conn, _, err := websocket.Dial(t.Context(), ts.URL+"/ws?topic=news", &websocket.DialOptions{HTTPClient: e.hc})
	if err != nil {
		t.Fatal(err)
	}
	c := &raw{t: t, c: conn}
	defer conn.CloseNow()
	c.subscribed("news")
	select {
	case <-returned:
	case <-time.After(wait):
		t.Fatal("the handler did not return after the upgrade")
	}
	// The connection works after its handler returned.
	ev := e.publish(t, "news", "tick", `{}`)
	if f := c.event(); f.raw != string(ev.JSON()) {
		t.Fatalf("got %s", f)
	}
	c.send(`{"type":"ping","ts":3}`)
	if f := c.next(); f.Type != transports.TypePong || f.TS != 3 {
		t.Fatalf("got %s", f)
	}
	// A task stream still ends with 1000 after its terminal event.
	e.addTask("d")
	progress(t, e, "d", taskstream.KindProgress, 10)
	task := e.dial(t, "/ws/tasks/d", nil)
	task.event()
	progress(t, e, "d", taskstream.KindCompleted, 100)
	task.event()
	task.wantClose(websocket.StatusNormalClosure, "")

	codes := make(chan websocket.StatusCode, 1)
	go func() { // owner: this test; ends when c's connection closes, which Shutdown makes it do
		for {
			if _, err := c.tryRead(); err != nil {
				codes <- websocket.CloseStatus(err)
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.hub.Stats().Connections[ws.Transport]; n != 0 {
		t.Fatalf("%d connections left after Shutdown", n)
	}
	if code := <-codes; code != websocket.StatusGoingAway {
		t.Fatalf("closed with %v", code)
	}
}
