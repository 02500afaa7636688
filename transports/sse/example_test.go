package sse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/taskstream"
)

// A Go client watches a task stream: the snapshot first, then the task's
// events; after the terminal event the response ends, the client's
// reconnect gets 204 No Content, and Run returns nil.
func ExampleClient() {
	hub := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	srv := sse.New(sse.Config{Hub: hub, Retry: 10 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("GET /sse", srv) // GET /sse?client_id=alice&topic=news
	// The same resolver serves ws.Server.Stream: it names the topic, and
	// transports.ResolveSingle adds the snapshot, the end after the
	// terminal event and the resume cursor.
	resolve := func(r *http.Request) (transports.Stream, error) {
		topic := taskstream.Topic(r.PathValue("id"))
		if hub.Latest(topic) == nil {
			return transports.Stream{}, fmt.Errorf("no task %s: %w", r.PathValue("id"), transports.ReasonNotFound)
		}
		return transports.Stream{Topics: []string{topic}}, nil
	}
	mux.Handle("GET /sse/tasks/{id}", srv.Stream(resolve))
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer func() { // shutdown order: hub, SSE streams, HTTP server
		hub.Close()
		_ = srv.Shutdown(context.Background())
	}()

	ctx := context.Background()
	hub.Publish(ctx, "task:42", taskstream.KindQueued, json.RawMessage(`{"status":"queued"}`))
	client := sse.NewClient(sse.ClientConfig{
		URL: ts.URL + "/sse/tasks/42",
		OnEvent: func(e transports.WireEvent) {
			fmt.Println(e.Seq, e.Event, string(e.Data))
			if e.Event == transports.KindSnapshot { // the task runs on
				hub.Publish(ctx, "task:42", taskstream.KindProgress, json.RawMessage(`{"status":"running","progress":50}`))
				hub.Publish(ctx, "task:42", taskstream.KindCompleted, json.RawMessage(`{"status":"completed","progress":100}`))
			}
		},
	})
	err := client.Run(ctx)
	fmt.Println("Run:", err, "reconnects:", client.Stats().Reconnects)
	// Output:
	// 1 snapshot {"status":"queued"}
	// 2 progress {"status":"running","progress":50}
	// 3 completed {"status":"completed","progress":100}
	// Run: <nil> reconnects: 0
}
