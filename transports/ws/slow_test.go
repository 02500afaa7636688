package ws_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

// A client that never reads fills its queue and is closed with 4008; a
// client that reads gets every event meanwhile. The publisher is paced by
// the fast client only, so the test asserts order and completeness, not
// speed.
func TestSlowConsumerDoesNotDelayOthers(t *testing.T) {
	e := newEnv(t, ws.Config{WriteTimeout: 2 * wait}, transports.HubConfig{QueueSize: 8})
	fast := e.dial(t, "/ws?topic=load", nil)
	fast.subscribed("load")
	slow := e.dial(t, "/ws?topic=load", nil)
	slow.subscribed("load")
	// From here on slow reads nothing until the server gave up on it.

	var fastSeq atomic.Uint64
	fastErr := make(chan error, 1)
	go func() { // owner: this test; ends at fast's first read error (at the latest its close at cleanup)
		for {
			f, err := fast.tryRead()
			if err != nil {
				fastErr <- err
				return
			}
			if f.Type != transports.TypeEvent || f.Seq != fastSeq.Load()+1 {
				fastErr <- fmt.Errorf("fast client got %s after seq %d", f, fastSeq.Load())
				return
			}
			fastSeq.Store(f.Seq)
			if strings.Contains(string(f.Data), `"last":true`) {
				fastErr <- nil
				return
			}
		}
	}()

	pad := strings.Repeat("x", 16<<10)
	var published uint64
	for e.hub.Stats().SlowClosed == 0 {
		if published == 50_000 {
			t.Fatal("the client that never reads was never closed")
		}
		for fastSeq.Load()+4 < published { // keep the fast client's queue short
			select {
			case err := <-fastErr:
				t.Fatalf("fast client: %v", err)
			case <-time.After(time.Millisecond):
			}
		}
		e.publish(t, "load", "tick", `{"pad":"`+pad+`"}`)
		published++
	}
	last := e.publish(t, "load", "tick", `{"last":true}`)
	select {
	case err := <-fastErr:
		if err != nil {
			t.Fatalf("fast client: %v", err)
		}
	case <-time.After(wait):
		t.Fatalf("fast client stuck at seq %d of %d", fastSeq.Load(), last.Seq)
	}
	if got := fastSeq.Load(); got != last.Seq {
		t.Fatalf("fast client got %d events, want %d", got, last.Seq)
	}

	// The slow client now reads what the server had written, in order,
	// then the close.
	var seq uint64
	for {
		f, err := slow.tryRead()
		if err != nil {
			if code := websocket.CloseStatus(err); code != websocket.StatusCode(transports.ReasonSlowConsumer.WSStatus) {
				t.Fatalf("slow client closed with %v (%v), want 4008", code, err)
			}
			break
		}
		if f.Type != transports.TypeEvent || f.Seq != seq+1 {
			t.Fatalf("slow client got %s after %d", f, seq)
		}
		seq = f.Seq
	}
	if seq >= last.Seq {
		t.Fatalf("slow client got all %d events: it was never slow", seq)
	}
	t.Logf("published %d events of 16 KiB; the slow client got %d before 4008", last.Seq, seq)
}

// TestSlowConsumerResumes: a client closed with 4008 reconnects with its
// cursor and gets the rest.
func TestSlowConsumerResumes(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{QueueSize: 4})
	c := e.dial(t, "/ws?topic=load", nil)
	c.subscribed("load")
	waitFor(t, "attached", func() bool { return e.hub.Stats().Connections[ws.Transport] == 1 })
	// Publish more than the queue holds faster than anyone can write:
	// when the subscriber's queue is full the hub closes it at once.
	var n int
	for e.hub.Stats().SlowClosed == 0 {
		e.publish(t, "load", "tick", `{}`)
		n++
	}
	var seq uint64
	for {
		f, err := c.tryRead()
		if err != nil {
			if websocket.CloseStatus(err) != 4008 {
				t.Fatalf("closed with %v", err)
			}
			break
		}
		if f.Seq != seq+1 {
			t.Fatalf("got %s after %d", f, seq)
		}
		seq = f.Seq
	}
	for range 3 {
		e.publish(t, "load", "tick", `{}`)
		n++
	}
	c = e.dial(t, fmt.Sprintf("/ws?topic=load&last_event_id=%d", seq), nil)
	for want := seq + 1; want <= uint64(n); want++ {
		f := c.event()
		var d map[string]any
		if f.Seq != want || json.Unmarshal(f.Data, &d) != nil {
			t.Fatalf("got %s, want seq %d", f, want)
		}
	}
}
