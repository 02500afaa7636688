package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// startDemoServer runs the real demo server (the one `go run ./cmd/demo`
// starts, page included) on a random loopback port, where the admin drop
// endpoint is enabled without a token. It returns the base URL; the server
// is shut down when the test ends.
func startDemoServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	srv, err := server.New(cfg)
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

// apiClient talks to the demo server's HTTP API from the test.
type apiClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newAPIClient(t *testing.T, base string) *apiClient {
	c := &apiClient{t: t, base: base, http: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

type taskJSON struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Progress int    `json:"progress"`
}

func (c *apiClient) do(method, path, body string, want int, out any) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		c.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
	}
}

// finishedTask starts a task and waits until the server says it ended.
func (c *apiClient) finishedTask(files, stepMS int) taskJSON {
	c.t.Helper()
	var task taskJSON
	c.do("POST", "/api/tasks", fmt.Sprintf(`{"files":%d,"step_ms":%d}`, files, stepMS), http.StatusCreated, &task)
	deadline := time.Now().Add(30 * time.Second)
	for task.Status != "completed" && task.Status != "failed" {
		if time.Now().After(deadline) {
			c.t.Fatalf("task %s did not finish: %+v", task.ID, task)
		}
		time.Sleep(50 * time.Millisecond)
		c.do("GET", "/api/tasks/"+task.ID, "", http.StatusOK, &task)
	}
	return task
}
