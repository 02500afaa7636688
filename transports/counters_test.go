package transports_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// recConn is a Conn that records what Serve writes and how it closes it.
type recConn struct {
	mu     sync.Mutex
	events int
	closed chan *transports.CloseReason
}

func (c *recConn) WriteBatch(items []transports.Item) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range items {
		if it.Event != nil {
			c.events++
		}
	}
	return nil
}
func (c *recConn) Heartbeat() error                { return nil }
func (c *recConn) Close(r *transports.CloseReason) { c.closed <- r }

// Serve counts the connections it serves and how each ended, and hands
// every batch it wrote to HubConfig.Written; Stats and Gauges show them.
func TestCountersAndWritten(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	written := map[string]int{}
	var lagOK bool
	hub := transports.NewHub(transports.HubConfig{Written: func(tr string, items []transports.Item, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		for _, it := range items {
			if it.Event != nil {
				written[tr]++
				lagOK = !at.Before(it.Event.Time)
			}
		}
	}})
	defer hub.Close()
	if _, err := hub.Publish(t.Context(), "news", "message", []byte(`{"n":0}`)); err != nil {
		t.Fatal(err)
	}

	serve := func(transport string, cursor *uint64) (*transports.Subscriber, *recConn, chan struct{}) {
		s := transports.Stream{Topics: []string{"news", "other"}}
		if cursor != nil {
			s.Cursors = transports.Cursors{"news": *cursor}
		}
		sub, _, err := hub.Attach(transport, s)
		if err != nil {
			t.Fatal(err)
		}
		c := &recConn{closed: make(chan *transports.CloseReason, 1)}
		done := make(chan struct{})
		go func() { // owner: this test, which waits for done
			defer close(done)
			transports.Serve(sub, c, transports.LoopConfig{Heartbeat: time.Hour})
			sub.Close(nil)
		}()
		return sub, c, done
	}
	zero := uint64(0)
	_, wsConn, wsDone := serve("ws", &zero) // resumes: gets event 1 replayed
	_, _, sseDone := serve("sse", nil)
	if g := hub.Gauges(); g.Subscriptions != 4 {
		t.Fatalf("Gauges = %+v, want 4 subscriptions (2 connections x 2 topics)", g)
	}
	for i := 1; i <= 3; i++ {
		if _, err := hub.Publish(t.Context(), "news", "message", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		ws, sse := written["ws"], written["sse"]
		mu.Unlock()
		if ws == 4 && sse == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("written ws=%d sse=%d, want 4 and 3", ws, sse)
		}
	}
	if !lagOK {
		t.Error("Written's time is before an event's publish time")
	}
	hub.DropAll("ws")
	if r := <-wsConn.closed; r != transports.ReasonDropped {
		t.Fatalf("ws closed with %v, want dropped", r)
	}
	<-wsDone
	hub.Close()
	<-sseDone

	st := hub.Stats()
	want := "connects map[sse:1 ws:1] disconnects map[sse:map[shutdown:1] ws:map[dropped:1]] resumes 1"
	if got := fmt.Sprintf("connects %v disconnects %v resumes %d", st.Connects, st.Disconnects, st.Resumes); got != want {
		t.Fatalf("Stats: %s\nwant   %s", got, want)
	}
	if g := hub.Gauges(); g != (transports.Gauges{}) {
		t.Fatalf("Gauges after every connection left = %+v, want zero", g)
	}
}
