package redisbroker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/internal/redistest"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/redisbroker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is a hub on its own Redis broker: one process of a deployment.
func node(t *testing.T, cfg transports.HubConfig, servers ...*redistest.Server) *transports.Hub {
	t.Helper()
	var shards []*redis.Options
	for _, s := range servers {
		o, err := redisbroker.ParseURL(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, o)
	}
	b, err := redisbroker.New(redisbroker.Config{Shards: shards, History: cfg.History})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Broker = b
	h := transports.NewHub(cfg)
	t.Cleanup(func() {
		h.Close()
		b.Close()
	})
	return h
}

func subscribe(t *testing.T, h *transports.Hub, topic string, opts transports.SubscribeOptions) *transports.Subscriber {
	t.Helper()
	s, err := h.NewSubscriber(transports.SubscriberOptions{Transport: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(nil) })
	if _, err := s.Subscribe(topic, opts); err != nil {
		t.Fatal(err)
	}
	return s
}

func publish(t *testing.T, h *transports.Hub, topic, kind string) *transports.Event {
	t.Helper()
	e, err := h.Publish(context.Background(), topic, kind, json.RawMessage(`{"k":"`+kind+`"}`))
	if err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
	return e
}

// collect waits for n events on s and returns them as kind:seq, plus their
// wire bytes.
func collect(t *testing.T, s *transports.Subscriber, n int) ([]string, []string) {
	t.Helper()
	var got, wire []string
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case <-s.Ready():
		case <-deadline:
			t.Fatalf("got %d of %d events: %v", len(got), n, got)
		}
		for _, it := range s.Drain(nil) {
			if it.Event != nil {
				got = append(got, fmt.Sprintf("%s:%d", it.Event.Kind, it.Event.Seq))
				wire = append(wire, string(it.Event.JSON()))
			}
		}
	}
	return got, wire
}

// contiguous fails unless got is seq from..from+len-1 in order.
func contiguous(t *testing.T, name string, got []string, from int) {
	t.Helper()
	for i, v := range got {
		if !strings.HasSuffix(v, fmt.Sprintf(":%d", from+i)) {
			t.Fatalf("%s: event %d is %s, want seq %d (%v)", name, i, v, from+i, got)
		}
	}
}

// Three nodes publish to one topic at once: every subscriber on every node
// sees 1..N contiguous, in the same order, with the same bytes. With two
// shards the topics land on both, and the same holds for each.
func TestNodesPublishingConcurrently(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			var servers []*redistest.Server
			for range shards {
				servers = append(servers, redistest.Start(t, redistest.Options{}))
			}
			hubs := []*transports.Hub{
				node(t, transports.HubConfig{}, servers...),
				node(t, transports.HubConfig{}, servers...),
				node(t, transports.HubConfig{}, servers...),
			}
			topics := []string{"t0", "t1", "t2", "t3"}
			if shards == 2 {
				landed := map[int]bool{}
				for _, tp := range topics {
					landed[redisbroker.Shard(tp, 2)] = true
				}
				if len(landed) != 2 {
					t.Fatalf("topics %v all hash to one shard", topics)
				}
			}
			subs := map[string][]*transports.Subscriber{}
			for _, tp := range topics {
				for _, h := range hubs {
					subs[tp] = append(subs[tp], subscribe(t, h, tp, transports.SubscribeOptions{}))
				}
			}
			const each = 50
			var wg sync.WaitGroup
			for i, h := range hubs {
				wg.Add(1)
				go func() { // owner: this test (wg)
					defer wg.Done()
					for j := range each {
						for _, tp := range topics {
							if _, err := h.Publish(context.Background(), tp, fmt.Sprintf("n%d", i), json.RawMessage(fmt.Sprintf(`{"j":%d}`, j))); err != nil {
								t.Error(err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			for _, tp := range topics {
				var first []string
				for i, s := range subs[tp] {
					got, wire := collect(t, s, 3*each)
					contiguous(t, fmt.Sprintf("%s node %d", tp, i), got, 1)
					if first == nil {
						first = wire
					} else if fmt.Sprint(wire) != fmt.Sprint(first) {
						t.Fatalf("%s: node %d saw other events or bytes", tp, i)
					}
				}
			}
			if shards == 2 {
				for i, s := range servers {
					if n, err := s.Do(context.Background(), "DBSIZE"); err != nil || n == ":0" {
						t.Fatalf("shard %d holds no keys (%s, %v)", i, n, err)
					}
				}
			}
		})
	}
}

// A subscriber resumes on node B with a cursor from events published on
// node A: no gap, no duplicate, even while A keeps publishing; a cursor
// older than the history gets a reset.
func TestResumeOnAnotherNode(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	cfg := transports.HubConfig{History: 2000, QueueSize: 10000}
	a, b := node(t, cfg, srv), node(t, cfg, srv)
	for range 20 {
		publish(t, a, "t", "e")
	}
	const total = 600
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
	for i := range 10 {
		c := uint64(i * 2)
		subs = append(subs, subscribe(t, b, "t", transports.SubscribeOptions{After: &c}))
	}
	wg.Wait()
	for i, s := range subs {
		got, _ := collect(t, s, total-i*2)
		contiguous(t, fmt.Sprintf("sub %d", i), got, i*2+1)
	}

	small := transports.HubConfig{History: 5}
	c, d := node(t, small, srv), node(t, small, srv)
	for range 10 {
		publish(t, c, "u", "e")
	}
	one := uint64(1)
	s := subscribe(t, d, "u", transports.SubscribeOptions{After: &one})
	got, wire := collect(t, s, 6)
	if want := "reset:5 e:6 e:7 e:8 e:9 e:10"; strings.Join(got, " ") != want {
		t.Fatalf("got %v, want %s", got, want)
	}
	if !strings.Contains(wire[0], `"reason":"history_expired"`) {
		t.Fatalf("reset %s", wire[0])
	}
}

// publishRetrying publishes, retrying while Redis is still coming back.
func publishRetrying(t *testing.T, h *transports.Hub, topic string) *transports.Event {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		e, err := h.Publish(context.Background(), topic, "e", nil)
		if err == nil {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish after the restart: %v", err)
		}
	}
}

// Redis restarted mid-stream: while it is down a publish fails with
// ErrUnavailable and subscribers stay; when it is back, publishing resumes
// and the nodes catch up. Without persistence the subscribers get a reset
// (epoch_changed) and the new epoch from seq 1; with it, nothing is lost
// and nothing reset.
func TestRedisRestart(t *testing.T) {
	for _, persist := range []bool{false, true} {
		t.Run(fmt.Sprintf("persist=%v", persist), func(t *testing.T) {
			srv := redistest.Start(t, redistest.Options{Persist: persist})
			a, b := node(t, transports.HubConfig{}, srv), node(t, transports.HubConfig{}, srv)
			sa := subscribe(t, a, "t", transports.SubscribeOptions{})
			sb := subscribe(t, b, "t", transports.SubscribeOptions{})
			for range 5 {
				publish(t, a, "t", "e")
			}
			for _, s := range []*transports.Subscriber{sa, sb} {
				got, _ := collect(t, s, 5)
				contiguous(t, "before", got, 1)
			}
			srv.Stop()
			if _, err := a.Publish(context.Background(), "t", "e", nil); !errors.Is(err, transports.ErrUnavailable) {
				t.Fatalf("publish with Redis down: %v, want ErrUnavailable", err)
			}
			srv.Start()
			publishRetrying(t, b, "t")
			publish(t, a, "t", "e")
			for i, s := range []*transports.Subscriber{sa, sb} {
				select {
				case <-s.Done():
					t.Fatalf("subscriber %d closed: %v", i, s.Cause())
				default:
				}
				if persist {
					got, _ := collect(t, s, 2)
					contiguous(t, "after", got, 6)
					continue
				}
				got, wire := collect(t, s, 3)
				if strings.Join(got, " ") != "reset:0 e:1 e:2" {
					t.Fatalf("node %d after the restart: %v", i, got)
				}
				if !strings.Contains(wire[0], `"reason":"epoch_changed"`) || !strings.Contains(wire[0], `"cursor":5`) {
					t.Fatalf("reset %s", wire[0])
				}
			}
		})
	}
}
