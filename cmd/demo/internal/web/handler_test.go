package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/twinstream/twinstream/cmd/demo/internal/web"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	tests := []struct {
		method, path string
		status       int
		ctype        string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "twinstream"},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8", `from "./panel.js"`},
		{"GET", "/ws-client.js", 200, "text/javascript; charset=utf-8", "export class WebSocketClient"},
		{"GET", "/sse-client.js", 200, "text/javascript; charset=utf-8", "export class SSEClient"},
		{"GET", "/style.css", 200, "text/css; charset=utf-8", ".panels"},
		{"HEAD", "/style.css", 200, "text/css; charset=utf-8", ""},
		{"GET", "/nope.js", 404, "", ""},
		{"GET", "/../handler.go", 404, "", ""},
		{"GET", "/static/app.js", 404, "", ""},
		{"POST", "/", 405, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD returned a body of %d bytes", len(body))
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
		})
	}
}

// Every module the page imports must be served: a missing file would only
// show as a broken page in a browser.
func TestImportsResolve(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	seen := map[string]bool{}
	queue := []string{"app.js"}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		resp, err := srv.Client().Get(srv.URL + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", name, resp.StatusCode)
		}
		for _, line := range strings.Split(string(b), "\n") {
			_, rest, ok := strings.Cut(line, ` from "./`)
			if !ok || !strings.HasPrefix(strings.TrimSpace(line), "import") {
				continue
			}
			dep, _, _ := strings.Cut(rest, `"`)
			queue = append(queue, dep)
		}
	}
	for _, want := range []string{"panel.js", "chat.js", "ws-client.js", "sse-client.js", "seq.js", "stats.js", "api.js"} {
		if !seen[want] {
			t.Errorf("%s is not reachable from app.js", want)
		}
	}
}
