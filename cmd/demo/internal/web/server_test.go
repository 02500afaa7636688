package web_test

import (
	"context"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// startDemoServer runs the real demo server (the one `go run ./cmd/demo`
// starts, page included) on a random loopback port, where the admin drop
// endpoint is enabled without a token. It returns the base URL.
func startDemoServer(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{
		Addr: "127.0.0.1:0",
		// Frequent heartbeats so the page sees some during a short task.
		Heartbeat: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return srv.URL()
}
