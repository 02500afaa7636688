package transports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// nodes returns n hubs sharing one MemoryBroker, closed at cleanup.
func nodes(t *testing.T, n int, cfg transports.HubConfig) []*transports.Hub {
	t.Helper()
	mb := transports.NewMemoryBroker(cfg.History)
	hubs := make([]*transports.Hub, n)
	for i := range hubs {
		c := cfg
		c.Broker = mb.Node()
		hubs[i] = transports.NewHub(c)
		t.Cleanup(hubs[i].Close)
	}
	return hubs
}

// collect drains s until it holds want events of topic or 5 s pass, and
// returns their kind:seq strings.
func collect(t *testing.T, s *transports.Subscriber, want int) []string {
	t.Helper()
	var got []string
	deadline := time.After(5 * time.Second)
	for len(got) < want {
		select {
		case <-s.Ready():
		case <-deadline:
			t.Fatalf("got %d of %d events: %v", len(got), want, got)
		}
		for _, it := range s.Drain(nil) {
			if it.Event != nil {
				got = append(got, fmt.Sprintf("%s:%d", it.Event.Kind, it.Event.Seq))
			}
		}
	}
	return got
}

// Three nodes publish to one topic at once: every subscriber on every node
// sees 1..N, contiguous, in the same order, with the same bytes.
func TestBrokerNodesShareOneSequence(t *testing.T) {
	hubs := nodes(t, 3, transports.HubConfig{})
	var subs []*transports.Subscriber
	for _, h := range hubs {
		for range 2 {
			s := newSub(t, h, "")
			if _, err := s.Subscribe("t", transports.SubscribeOptions{}); err != nil {
				t.Fatal(err)
			}
			subs = append(subs, s)
		}
	}
	const each = 200
	var wg sync.WaitGroup
	for i, h := range hubs {
		wg.Add(1)
		go func() { // owner: this test (wg)
			defer wg.Done()
			for range each {
				if _, err := h.Publish(context.Background(), "t", fmt.Sprintf("n%d", i), json.RawMessage(`{}`)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var first []string
	for i, s := range subs {
		got := collect(t, s, 3*each)
		for j, v := range got {
			if !strings.HasSuffix(v, fmt.Sprintf(":%d", j+1)) {
				t.Fatalf("sub %d: event %d is %s", i, j, v)
			}
		}
		if first == nil {
			first = got
		} else if !eq(got, first) {
			t.Fatalf("sub %d saw another order", i)
		}
	}
}

// A subscription resuming on node B while node A publishes sees every event
// exactly once, in order.
func TestBrokerResumeAcrossNodesUnderConcurrentPublish(t *testing.T) {
	cfg := transports.HubConfig{History: 100000, QueueSize: 100000}
	hubs := nodes(t, 2, cfg)
	a, b := hubs[0], hubs[1]
	const total = 3000
	for range 20 {
		publish(t, a, "t", "e", `{}`)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owner: this test (wg)
		defer wg.Done()
		for range total - 20 {
			if _, err := a.Publish(context.Background(), "t", "e", nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var subs []*transports.Subscriber
	for i := range 20 {
		s := newSub(t, b, "")
		if _, err := s.Subscribe("t", transports.SubscribeOptions{After: u(uint64(i))}); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	wg.Wait()
	for i, s := range subs {
		got := collect(t, s, total-i)
		for j, v := range got {
			if want := fmt.Sprintf("e:%d", i+j+1); v != want {
				t.Fatalf("sub %d: event %d is %s, want %s", i, j, v, want)
			}
		}
	}
}

// Deliveries the broker loses are filled from its history: the subscriber
// never sees a seq skip.
func TestBrokerFillsGaps(t *testing.T) {
	mb := transports.NewMemoryBroker(0)
	pub := transports.NewHub(transports.HubConfig{Broker: mb.Node()})
	defer pub.Close()
	lossy := mb.Node()
	transports.SetDrop(lossy, func(e *transports.Event) bool { return e.Seq%7 == 3 })
	h := transports.NewHub(transports.HubConfig{Broker: lossy})
	defer h.Close()
	s := newSub(t, h, "")
	if _, err := s.Subscribe("t", transports.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		publish(t, pub, "t", "e", `{}`)
	}
	got := collect(t, s, 50)
	for j, v := range got {
		if want := fmt.Sprintf("e:%d", j+1); v != want {
			t.Fatalf("event %d is %s, want %s", j, v, want)
		}
	}
}

// A broker that lost its topics (a new epoch) makes the hub tell its
// subscribers with a reset, epoch_changed, before the new epoch's events.
func TestBrokerEpochChangeResets(t *testing.T) {
	mb := transports.NewMemoryBroker(0)
	h := transports.NewHub(transports.HubConfig{Broker: mb.Node()})
	defer h.Close()
	s := newSub(t, h, "")
	if _, err := s.Subscribe("t", transports.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		publish(t, h, "t", "e", `{}`)
	}
	if got := collect(t, s, 3); !eq(got, []string{"e:1", "e:2", "e:3"}) {
		t.Fatalf("before: %v", got)
	}
	mb.Forget()
	publish(t, h, "t", "e", `{}`)
	got := collect(t, s, 2)
	if !eq(got, []string{"reset:0", "e:1"}) {
		t.Fatalf("after the loss: %v", got)
	}
	if e := h.Latest("t"); e == nil || e.Seq != 1 {
		t.Fatalf("latest = %v", e)
	}
}
