package ws_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

// A task stream over WebSocket: the Go client gets the snapshot first, then
// the task's events, and Run returns nil when the server closes with 1000
// after the terminal event.
func Example() {
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	srv := ws.New(ws.Config{Hub: hub})
	mux := http.NewServeMux()
	// The same resolver serves sse.Server.Stream: it names the topic, and
	// transports.ResolveSingle adds the snapshot, the end after the
	// terminal event and the resume cursor.
	resolve := func(r *http.Request) (transports.Stream, error) {
		topic := taskstream.Topic(r.PathValue("id"))
		if hub.Latest(topic) == nil {
			return transports.Stream{}, fmt.Errorf("no task %s: %w", r.PathValue("id"), transports.ReasonNotFound)
		}
		return transports.Stream{Topics: []string{topic}}, nil
	}
	mux.Handle("GET /ws/tasks/{id}", srv.Stream(resolve))
	ts := httptest.NewServer(mux)
	ctx := context.Background()
	hub.Publish(ctx, "task:42", taskstream.KindQueued, json.RawMessage(`{"progress":0}`))

	client := ws.NewClient(ws.ClientConfig{
		URL: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws/tasks/42",
		OnEvent: func(e transports.WireEvent) {
			fmt.Println(e.Seq, e.Event, string(e.Data))
			if e.Event == transports.KindSnapshot { // attached: the task runs on
				hub.Publish(ctx, "task:42", taskstream.KindProgress, json.RawMessage(`{"progress":50}`))
				hub.Publish(ctx, "task:42", taskstream.KindCompleted, json.RawMessage(`{"progress":100}`))
			}
		},
	})
	err := client.Run(ctx)
	fmt.Println("complete:", err == nil, "events:", client.Stats().Events)

	hub.Close()
	srv.Shutdown(ctx) // waits for the WebSocket handlers (http.Server does not)
	ts.Close()
	// Output:
	// 1 snapshot {"progress":0}
	// 2 progress {"progress":50}
	// 3 completed {"progress":100}
	// complete: true events: 3
}
