package bench_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/ws"
)

// testServer is the hub and both transports on a real 127.0.0.1 listener,
// with the parts of the demo server's HTTP surface loadgen uses: publish,
// metrics and admin drop.
type testServer struct {
	URL string
	Hub *transports.Hub
	ws  *ws.Server
	sse *sse.Server
	ts  *httptest.Server
}

func newTestServer(tb testing.TB) *testServer {
	tb.Helper()
	return newHubServer(tb, transports.NewHub(transports.HubConfig{}), nil)
}

// newHubServer serves hub like newTestServer; with node set, GET /api/stats
// answers {"node":node,"connections":…} as the demo does.
func newHubServer(tb testing.TB, hub *transports.Hub, node map[string]any) *testServer {
	tb.Helper()
	s := &testServer{Hub: hub, ws: ws.New(ws.Config{Hub: hub}), sse: sse.New(sse.Config{Hub: hub, Retry: 200 * time.Millisecond})}
	mux := http.NewServeMux()
	mux.Handle("GET /ws", s.ws)
	mux.Handle("GET /sse", s.sse)
	mux.HandleFunc("POST /api/topics/{topic}/events", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e, err := hub.Publish(r.Context(), r.PathValue("topic"), body.Event, body.Data)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"topic": e.Topic, "seq": e.Seq, "ts": e.TimeMicros()})
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"connections": hub.Stats().Connections})
	})
	if node != nil {
		mux.HandleFunc("GET /api/stats", func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]any{"node": node, "connections": hub.Stats().Connections})
		})
	}
	mux.HandleFunc("POST /api/admin/drop", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]int{"dropped": hub.DropAll(r.URL.Query().Get("transport"))})
	})
	s.ts = httptest.NewServer(mux)
	s.URL = s.ts.URL
	tb.Cleanup(s.close)
	return s
}

func (s *testServer) close() {
	s.Hub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.ws.Shutdown(ctx)
	_ = s.sse.Shutdown(ctx)
	s.ts.Close()
}

// waitConns waits until the hub holds n connections of a transport.
func (s *testServer) waitConns(tb testing.TB, transport string, n int) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Hub.Stats().Connections[transport] < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d of %d connections after 30s", transport, s.Hub.Stats().Connections[transport], n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
