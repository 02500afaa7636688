package server_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/cmd/demo/internal/tasks"
	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/ws"
)

// recorder collects a Go client's events.
type recorder struct {
	mu  sync.Mutex
	evs []transports.WireEvent
}

func (r *recorder) add(e transports.WireEvent) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) events() []transports.WireEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]transports.WireEvent(nil), r.evs...)
}

// TestGoClientsResumeAfterDrop: the Go clients of both transports follow
// one task; an admin drop cuts both mid-task; they reconnect on their own,
// resume from their cursor, and end with the terminal event — no gap, no
// duplicate, the same events on both.
func TestGoClientsResumeAfterDrop(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{SSERetry: 20 * time.Millisecond})
	task := ts.createTask(`{"files":100,"step_ms":20}`)
	backoff := transports.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	var wsRec, sseRec recorder
	wsc := ws.NewClient(ws.ClientConfig{
		URL: ts.wsURL("/ws/tasks/" + task.ID), HTTPClient: ts.streamClient(), Backoff: backoff, OnEvent: wsRec.add,
	})
	ssec := sse.NewClient(sse.ClientConfig{
		URL: ts.url + "/sse/tasks/" + task.ID, HTTPClient: ts.streamClient(), Backoff: backoff, OnEvent: sseRec.add,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	errs := make(chan error, 2)
	// owner of both: this test, which waits for errs; each ends when its
	// task stream completes, at the latest when ctx ends.
	go func() { errs <- wsc.Run(ctx) }()
	go func() { errs <- ssec.Run(ctx) }()

	eventually(t, "both clients to get events", func() bool {
		return len(wsRec.events()) >= 2 && len(sseRec.events()) >= 2
	})
	var dropped map[string]int
	ts.do("POST", "/api/admin/drop?transport=all", "").decode(t, &dropped)
	if dropped["dropped"] != 2 {
		t.Fatalf("dropped %d, want 2", dropped["dropped"])
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Run: %v (want nil once the task stream completes)", err)
		}
	}
	wsEv, sseEv := wsRec.events(), sseRec.events()
	checkTaskStream(t, wsEv, tasks.Topic(task.ID))
	checkTaskStream(t, sseEv, tasks.Topic(task.ID))
	if wsEv[len(wsEv)-1].Seq != 102 || sseEv[len(sseEv)-1].Seq != 102 {
		t.Fatalf("ended at %d / %d, want 102", wsEv[len(wsEv)-1].Seq, sseEv[len(sseEv)-1].Seq)
	}
	for name, st := range map[string]uint64{"ws": wsc.Stats().Reconnects, "sse": ssec.Stats().Reconnects} {
		if st < 1 {
			t.Errorf("%s client never reconnected", name)
		}
	}
	// Same events after the later snapshot.
	from := max(wsEv[0].Seq, sseEv[0].Seq)
	key := func(evs []transports.WireEvent) string {
		var b strings.Builder
		for _, e := range evs {
			if e.Seq > from {
				b.WriteString(e.Event + string(e.Data) + "\n")
			}
		}
		return b.String()
	}
	if key(wsEv) != key(sseEv) {
		t.Fatal("the two transports delivered different events")
	}
}
