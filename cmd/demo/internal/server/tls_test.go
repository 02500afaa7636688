package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/cmd/demo/internal/server"
	"github.com/twinstream/twinstream/transports"
)

// With --tls-self-signed the server speaks HTTPS: HTTP/2 by ALPN for the
// API and SSE (streams multiplexed on one connection), HTTP/1.1 for the
// WebSocket upgrade, as a browser opens it.
func TestTLSHTTP2(t *testing.T) {
	ts := start(t, server.Config{TLSSelfSigned: true})
	if !strings.HasPrefix(ts.url, "https://") {
		t.Fatalf("URL %q, want https://", ts.url)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	resp, err := hc.Get(ts.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("/healthz over %s, want HTTP/2", resp.Proto)
	}

	// Three SSE streams and a publish share one HTTP/2 connection.
	var readers []*bufio.Reader
	for range 3 {
		req, _ := http.NewRequest(http.MethodGet, ts.url+"/sse?topic=h2", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("SSE over %s, %q", resp.Proto, resp.Header.Get("Content-Type"))
		}
		readers = append(readers, bufio.NewReader(resp.Body))
	}
	waitConns(t, ts.Hub(), "sse", 3)
	hc.Transport.(*http.Transport).CloseIdleConnections()
	ev, err := ts.Hub().Publish(context.Background(), "h2", "progress", json.RawMessage(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range readers {
		if got := readData(t, r); got != string(ev.JSON()) {
			t.Fatalf("SSE data %s, want %s", got, ev.JSON())
		}
	}

	// The WebSocket: an HTTP/1.1 upgrade over TLS.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wtr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer wtr.CloseIdleConnections()
	c, _, err := websocket.Dial(ctx, "wss"+strings.TrimPrefix(ts.url, "https")+"/ws?topic=h2",
		&websocket.DialOptions{HTTPClient: &http.Client{Transport: wtr}})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer c.CloseNow()
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `"type":"subscribed"`) {
		t.Fatalf("first frame %s, %v", b, err)
	}
}

// readData returns the next data: line's value.
func readData(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			return strings.TrimSuffix(v, "\n")
		}
	}
}

func waitConns(t *testing.T, hub *transports.Hub, transport string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for hub.Stats().Connections[transport] < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s connections, want %d", hub.Stats().Connections[transport], transport, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
