package transports_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/twinstream/twinstream/transports"
)

// A connection resumes a topic after seq 1: it gets event 2 from history,
// then live events, each exactly once.
func Example() {
	hub := transports.NewHub(transports.HubConfig{History: 100})
	ctx := context.Background()
	hub.Publish(ctx, "news", "headline", json.RawMessage(`{"title":"one"}`))
	hub.Publish(ctx, "news", "headline", json.RawMessage(`{"title":"two"}`))

	sub, _, _ := hub.Attach("ws", transports.Stream{Topics: []string{"news"}, Cursors: transports.Cursors{"news": 1}})
	defer sub.Close(nil)
	hub.Publish(ctx, "news", "headline", json.RawMessage(`{"title":"three"}`))

	for _, it := range sub.Drain(nil) {
		fmt.Println(it.Event.Seq, string(it.Event.Data))
	}
	// Output:
	// 2 {"title":"two"}
	// 3 {"title":"three"}
}
