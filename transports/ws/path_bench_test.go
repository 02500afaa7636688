package ws_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/pathbench"
	"github.com/twinstream/twinstream/transports/ws"
)

// pathSetup serves detached WebSocket connections for pathbench.
func pathSetup(hub *transports.Hub, topic string) (http.Handler, func() *http.Request, func([]byte) int, func()) {
	srv := ws.New(ws.Config{Hub: hub, Detach: true, Heartbeat: time.Hour, IdleTimeout: time.Hour})
	req := pathbench.Request("/ws?topic="+topic, http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	})
	stop := func() {
		hub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), pathbench.Wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return srv, req, textFrames, stop
}

// textFrames counts the text frames in p, which holds whole server frames.
func textFrames(p []byte) int {
	n := 0
	for len(p) >= 2 {
		op, l, h := p[0]&0x0f, int(p[1]&0x7f), 2
		switch l {
		case 126:
			l, h = int(p[2])<<8|int(p[3]), 4
		case 127:
			l, h = 0, 10
			for _, c := range p[2:10] {
				l = l<<8 | int(c)
			}
		}
		if op == 1 {
			n++
		}
		p = p[min(h+l, len(p)):]
	}
	return n
}

// BenchmarkServerPath is the WebSocket server path alone: the hub's
// fan-out and the connection loop onto counting connections, paced (one
// event in flight: a wake-up and a write per delivery) and in a burst (the
// writers drain backlogs).
//
//	go test -run '^$' -bench ServerPath ./transports/...
func BenchmarkServerPath(b *testing.B) { pathbench.Benchmarks(b, "ws", pathSetup) }

// A backlog goes out in one write: 50 events queued behind a held write
// take exactly one more write call, not 50.
func TestBacklogIsOneWrite(t *testing.T) { pathbench.CheckBacklogIsOneWrite(t, pathSetup) }
