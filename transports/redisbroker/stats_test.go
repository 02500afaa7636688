package redisbroker_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twinstream/twinstream/internal/redistest"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/redisbroker"
)

// Stats counts round trips, the failed ones while Redis is down, and the
// pub/sub connection coming back.
func TestStats(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	o, err := redisbroker.ParseURL(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	b, err := redisbroker.New(redisbroker.Config{Shards: []*redis.Options{o}})
	if err != nil {
		t.Fatal(err)
	}
	h := transports.NewHub(transports.HubConfig{Broker: b})
	defer b.Close()
	defer h.Close()
	subscribe(t, h, "news", transports.SubscribeOptions{})
	for range 3 {
		publish(t, h, "news", "tick")
	}
	st := b.Stats()
	if st.RoundTrips < 3 || st.Errors != 0 || st.PubSubReconnects != 0 {
		t.Fatalf("after 3 publishes: %+v, want >= 3 round trips, no errors, no reconnects", st)
	}
	rs.Stop()
	if _, err := h.Publish(context.Background(), "news", "tick", nil); err == nil {
		t.Fatal("publish with Redis down succeeded")
	}
	if st := b.Stats(); st.Errors == 0 {
		t.Fatalf("with Redis down: %+v, want errors counted", st)
	}
	rs.Start()
	for deadline := time.Now().Add(20 * time.Second); b.Stats().PubSubReconnects == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no pub/sub reconnect counted: %+v", b.Stats())
		}
	}
}
