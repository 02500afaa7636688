package sse_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
)

// An HTTP/1.0 request, as nginx sends upstream by default, gets a stream
// without chunked encoding (HTTP/1.0 has none), also from a server that
// detaches HTTP/1.1 streams.
func TestHTTP10StreamIsNotChunked(t *testing.T) {
	for _, detach := range []bool{false, true} {
		hub := transports.NewHub(transports.HubConfig{})
		srv := sse.New(sse.Config{Hub: hub, Detach: detach, Heartbeat: time.Hour})
		ts := httptest.NewServer(srv)
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte("GET /?topic=t HTTP/1.0\r\nHost: x\r\n\r\n"))
		_ = c.SetDeadline(time.Now().Add(wait))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("detach %v: %v", detach, err)
		}
		if len(resp.TransferEncoding) > 0 {
			t.Errorf("detach %v: Transfer-Encoding %v on an HTTP/1.0 response", detach, resp.TransferEncoding)
		}
		deadline := time.Now().Add(wait)
		for hub.Stats().Connections[sse.Transport] < 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		ev, err := hub.Publish(t.Context(), "t", "progress", []byte(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		for {
			l, err := br.ReadString('\n') // the body, as it comes (no chunk framing)
			if err != nil {
				t.Fatalf("detach %v: reading: %v", detach, err)
			}
			if d, ok := strings.CutPrefix(l, "data: "); ok {
				if strings.TrimSpace(d) != string(ev.JSON()) {
					t.Fatalf("detach %v: data %q", detach, d)
				}
				break
			}
		}
		c.Close()
		hub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		cancel()
		ts.Close()
	}
}
