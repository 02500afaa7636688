package server_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
)

// TestAdminDropRules: the admin endpoint is open on a loopback listener
// without a token, needs the bearer token when one is configured, and is
// disabled on other listeners without a token.
func TestAdminDropRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		cfg    server.Config
		header string
		status int
		code   string
	}{
		{"loopback, no token", server.Config{}, "", 200, ""},
		{"loopback, token, none sent", server.Config{AdminToken: "s3cret"}, "", 401, "forbidden"},
		{"loopback, token, wrong", server.Config{AdminToken: "s3cret"}, "Authorization: Bearer nope", 401, "forbidden"},
		{"loopback, token, not bearer", server.Config{AdminToken: "s3cret"}, "Authorization: s3cret", 401, "forbidden"},
		{"loopback, token, right", server.Config{AdminToken: "s3cret"}, "Authorization: Bearer s3cret", 200, ""},
		{"all interfaces, no token", server.Config{Addr: "0.0.0.0:0"}, "", 403, "forbidden"},
		{"all interfaces, token", server.Config{Addr: "0.0.0.0:0", AdminToken: "s3cret"}, "Authorization: Bearer s3cret", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, tt.cfg)
			if strings.HasPrefix(ts.url, "http://0.0.0.0:") || strings.HasPrefix(ts.url, "http://[::]:") {
				ts.url = "http://127.0.0.1:" + ts.url[strings.LastIndex(ts.url, ":")+1:]
			}
			res := ts.do("POST", "/api/admin/drop?transport=all", "", tt.header)
			if tt.code != "" {
				res.errorFrame(t, tt.status, tt.code)
				return
			}
			var got map[string]int
			res.decode(t, &got)
			if res.status != tt.status || got["dropped"] != 0 {
				t.Fatalf("%d %v", res.status, got)
			}
		})
	}
}

// TestAdminDropSSE: a dropped SSE stream ends; the other transport's
// streams are untouched.
func TestAdminDropSSE(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	c := ts.openSSE("/sse?topic=news").expectStream()
	eventually(t, "the stream to attach", func() bool { return ts.Hub().Stats().Connections["sse"] == 1 })
	var got map[string]int
	ts.do("POST", "/api/admin/drop?transport=ws", "").decode(t, &got)
	if got["dropped"] != 0 {
		t.Fatalf("ws drop dropped %d", got["dropped"])
	}
	ts.do("POST", "/api/admin/drop?transport=sse", "").decode(t, &got)
	if got["dropped"] != 1 {
		t.Fatalf("sse drop dropped %d, want 1", got["dropped"])
	}
	if _, err := io.ReadAll(c.r); err != nil {
		t.Fatalf("dropped stream did not end cleanly: %v", err)
	}
	eventually(t, "the connection to go", func() bool { return ts.Hub().Stats().Connections["sse"] == 0 })
	if res := ts.do("POST", "/api/admin/drop", ""); res.status != http.StatusOK {
		t.Fatalf("drop without transport (= all): %d %s", res.status, res.body)
	}
}

// TestPprofListener: --pprof serves net/http/pprof on its own address,
// never on the API's, and Run closes it on shutdown.
func TestPprofListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owner: this test; ends when Run returns after cancel, and the test waits for done
		err := server.Run(ctx, server.Config{Addr: "127.0.0.1:0", PprofAddr: pprofAddr}, pw)
		pw.Close()
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no listening line: %v", err)
	}
	go io.Copy(io.Discard, pr) //nolint:errcheck // owner: this test; drains the rest until Run returns
	api := strings.TrimSpace(strings.TrimPrefix(line, server.ListenBanner))
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if got := get("http://" + pprofAddr + "/debug/pprof/"); got != http.StatusOK {
		t.Errorf("pprof index: %d", got)
	}
	if got := get("http://" + pprofAddr + "/debug/pprof/heap?debug=1"); got != http.StatusOK {
		t.Errorf("pprof heap: %d", got)
	}
	if got := get(api + "/debug/pprof/"); got != http.StatusNotFound {
		t.Errorf("the API address serves /debug/pprof/: %d", got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
	if c, err := net.DialTimeout("tcp", pprofAddr, time.Second); err == nil {
		c.Close()
		t.Error("the pprof listener is still open after shutdown")
	}
}
