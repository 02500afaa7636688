package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

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
