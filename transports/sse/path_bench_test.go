package sse_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/pathbench"
	"github.com/twinstream/twinstream/transports/sse"
)

// pathSetup serves detached SSE streams for pathbench.
func pathSetup(hub *transports.Hub, topic string) (http.Handler, func() *http.Request, func([]byte) int, func()) {
	srv := sse.New(sse.Config{Hub: hub, Detach: true, Heartbeat: time.Hour})
	req := pathbench.Request("/sse?topic="+topic, nil)
	stop := func() {
		hub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), pathbench.Wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return srv, req, dataFrames, stop
}

// dataFrames counts the frames with data in p, which holds whole frames.
func dataFrames(p []byte) int { return bytes.Count(p, []byte("data: ")) }

// BenchmarkServerPath is the SSE server path alone: the hub's
// fan-out and the connection loop onto counting connections, paced (one
// event in flight: a wake-up and a write per delivery) and in a burst (the
// writers drain backlogs).
//
//	go test -run '^$' -bench ServerPath ./transports/...
func BenchmarkServerPath(b *testing.B) { pathbench.Benchmarks(b, "sse", pathSetup) }

// A backlog goes out in one write: 50 events queued behind a held write
// take exactly one more write call, not 50.
func TestBacklogIsOneWrite(t *testing.T) { pathbench.CheckBacklogIsOneWrite(t, pathSetup) }
