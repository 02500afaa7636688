package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/transports"
)

// Issue 10, "cross-site POSTs": every POST took any Content-Type and
// checked no Origin, so a foreign page could call them (the loopback admin
// drop included); a WebSocket upgrade with Host and Origin both foreign got
// 101 (DNS rebinding).

func TestCrossSitePOSTRefused(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	task := `{"files":1,"step_ms":0}`
	for _, tt := range []struct {
		name    string
		path    string
		headers []string
		status  int
		code    string
	}{
		{"foreign origin", "/api/tasks", []string{"Origin: http://evil.example", "Content-Type: application/json"}, http.StatusForbidden, transports.CodeForbidden},
		{"foreign origin on the admin drop", "/api/admin/drop", []string{"Origin: http://evil.example", "Content-Type: application/json"}, http.StatusForbidden, transports.CodeForbidden},
		{"opaque origin", "/api/tasks", []string{"Origin: null", "Content-Type: application/json"}, http.StatusForbidden, transports.CodeForbidden},
		{"rebinding: our port, foreign name", "/api/tasks", []string{"Origin: http://evil.example" + ts.url[strings.LastIndex(ts.url, ":"):], "Content-Type: application/json"}, http.StatusForbidden, transports.CodeForbidden},
		{"browser, form content type", "/api/tasks", []string{"Origin: " + ts.url, "Content-Type: application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, transports.CodeInvalidMessage},
		{"browser, text/plain", "/api/topics/news/events", []string{"Origin: " + ts.url, "Content-Type: text/plain"}, http.StatusUnsupportedMediaType, transports.CodeInvalidMessage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.do("POST", tt.path, task, tt.headers...).errorFrame(t, tt.status, tt.code)
		})
	}
	if res := ts.do("POST", "/api/tasks", task, "Origin: "+ts.url, "Content-Type: application/json; charset=utf-8"); res.status != http.StatusCreated {
		t.Fatalf("same-origin JSON POST: %d %s", res.status, res.body)
	}
	if res := ts.do("POST", "/api/tasks", task, "Origin: "+strings.Replace(ts.url, "127.0.0.1", "localhost", 1), "Content-Type: application/json"); res.status != http.StatusCreated {
		t.Fatalf("POST from localhost, the loopback listener's other name: %d %s", res.status, res.body)
	}
}

// TestCurlPOSTWithoutOriginWorks: the README's curl examples (no Origin,
// curl's default form Content-Type) keep working.
func TestCurlPOSTWithoutOriginWorks(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{})
	res := ts.do("POST", "/api/tasks", `{"files":20,"step_ms":200}`, "Content-Type: application/x-www-form-urlencoded")
	if res.status != http.StatusCreated {
		t.Fatalf("curl -XPOST /api/tasks -d ...: %d %s", res.status, res.body)
	}
}

func TestWSUpgradeOriginCheckedAgainstListener(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{AllowOrigins: []string{"app.example"}})
	host := strings.TrimPrefix(ts.url, "http://")
	port := host[strings.LastIndex(host, ":"):]
	for _, tt := range []struct {
		name, host, origin string
		status             int
	}{
		{"DNS rebinding: Host and Origin both foreign", "evil.example" + port, "http://evil.example" + port, http.StatusForbidden},
		{"foreign Origin", host, "http://evil.example", http.StatusForbidden},
		{"same origin", host, ts.url, http.StatusSwitchingProtocols},
		{"localhost, the listener's other name", "localhost" + port, "http://localhost" + port, http.StatusSwitchingProtocols},
		{"--allow-origin", host, "https://app.example", http.StatusSwitchingProtocols},
		{"no Origin (not a browser)", host, "", http.StatusSwitchingProtocols},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.origin != "" {
				hdr = append(hdr, "Origin: "+tt.origin)
			}
			for _, path := range []string{"/ws?topic=a", "/ws/tasks/nope"} {
				if res := ts.dialRaw().upgrade(path, tt.host, hdr...); res.StatusCode != tt.status {
					t.Fatalf("%s: %d, want %d", path, res.StatusCode, tt.status)
				}
			}
		})
	}
}

// Issue 10, "no body read timeout": 300 trickled POST bodies were still
// open at 32 s, a stalled one at 100 s; and the connection limit counted
// only streams.

func TestSlowBodiesAreCut(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Hardening: server.Hardening{BodyTimeout: 300 * time.Millisecond}})
	head := "POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
	trickle, stall := ts.dialRaw(), ts.dialRaw()
	if err := trickle.write(head); err != nil {
		t.Fatal(err)
	}
	if err := stall.write(head + `{"files":`); err != nil {
		t.Fatal(err)
	}
	go func() { // owner: this test; ends when the server cuts the connection
		for range 100 {
			if trickle.write(" ") != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for name, rc := range map[string]*rawConn{"trickled": trickle, "stalled": stall} {
		res, err := rc.response("POST")
		if err != nil || res.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("%s body: %v %v, want 408", name, res, err)
		}
		if !rc.closedWithin(5 * time.Second) {
			t.Fatalf("%s body: connection still open", name)
		}
	}
}

func TestAPIRequestsCountAgainstPerIPCap(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{MaxConnsPerIP: 2})
	head := "POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
	for range 2 {
		if err := ts.dialRaw().write(head); err != nil { // held open by a body that never comes
			t.Fatal(err)
		}
	}
	var res response
	eventually(t, "the held requests to fill the per-IP cap", func() bool {
		res = ts.do("GET", "/healthz", "")
		return res.status == http.StatusTooManyRequests
	})
	res.errorFrame(t, http.StatusTooManyRequests, transports.CodeTooManyConnections)
	if res.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	other, err := dialFrom(t, "127.0.0.2").Get(ts.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	other.Body.Close()
	if other.StatusCode != http.StatusOK {
		t.Fatalf("another IP: %d", other.StatusCode)
	}
}

func TestHTTPTimeoutsCloseIdleAndSlowHeaders(t *testing.T) {
	t.Parallel()
	ts := start(t, server.Config{Hardening: server.Hardening{HeaderTimeout: 200 * time.Millisecond, HTTPIdleTimeout: 200 * time.Millisecond}})
	idle := ts.dialRaw()
	if err := idle.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if res, err := idle.response("GET"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", res, err)
	}
	if !idle.closedWithin(5 * time.Second) {
		t.Fatal("an idle keep-alive connection stayed open past --http-idle-timeout")
	}
	slow := ts.dialRaw()
	if err := slow.write("GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil { // the header never ends
		t.Fatal(err)
	}
	if !slow.closedWithin(5 * time.Second) {
		t.Fatal("an unfinished header stayed open past --header-timeout")
	}
}
