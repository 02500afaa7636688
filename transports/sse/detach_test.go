package sse_test

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
)

// detachEnv makes newEnv serve with Config.Detach.
const detachEnv = "TWINSTREAM_TEST_SSE_DETACH"

// The detached path (connections taken over from net/http) must behave
// exactly as the ResponseWriter path: every server, client and conformance
// test of the package runs again with Detach on.
func TestDetached(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T)
	}{
		{"WireFormat", TestWireFormat},
		{"MultiTopicRouting", TestMultiTopicRouting},
		{"Resume", TestResume},
		{"ResetWhenCursorTooOld", TestResetWhenCursorTooOld},
		{"TaskStream", TestTaskStream},
		{"RequestErrors", TestRequestErrors},
		{"Heartbeat", TestHeartbeat},
		{"Shutdown", TestShutdown},
		{"ShutdownWithoutHubClose", TestShutdownWithoutHubClose},
		{"ServerTimeoutsDoNotCutStreams", TestServerTimeoutsDoNotCutStreams},
		{"NodeEventSourceConformance", TestNodeEventSourceConformance},
		{"ClientResumesAfterDrops", TestClientResumesAfterDrops},
		{"ClientTaskStreamEnds", TestClientTaskStreamEnds},
		{"ClientRetriesUnavailable", TestClientRetriesUnavailable},
		{"ClientCountsHeartbeats", TestClientCountsHeartbeats},
		{"ConnectionLimits", TestConnectionLimits},
		{"SlowClientDoesNotDelayOthers", TestSlowClientDoesNotDelayOthers},
		{"ClientIdleTimeoutHeartbeatsKeepAlive", TestClientIdleTimeoutHeartbeatsKeepAlive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(detachEnv, "1")
			tc.run(t)
		})
	}
}

// A detached stream returns its handler at once, and one whose client
// leaves is released (the reader notices), without any write.
func TestDetachedReleasesLeavingClient(t *testing.T) {
	hub := transports.NewHub(transports.HubConfig{})
	defer hub.Close()
	srv := sse.New(sse.Config{Hub: hub, Detach: true, Heartbeat: time.Hour})
	returned := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		returned <- struct{}{}
	})}
	go hs.Serve(ln) // owner: this test, which closes hs below
	defer hs.Close()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("GET /sse?topic=news HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	head := string(buf[:n])
	for _, want := range []string{"HTTP/1.1 200 OK\r\n", "Content-Type: text/event-stream\r\n", "Transfer-Encoding: chunked\r\n", "X-Accel-Buffering: no\r\n"} {
		if !strings.Contains(head, want) {
			t.Errorf("response %q lacks %q", head, want)
		}
	}
	select {
	case <-returned:
	case <-time.After(wait):
		t.Fatal("handler did not return after taking the stream over")
	}
	if got := hub.Stats().Connections[sse.Transport]; got != 1 {
		t.Fatalf("connections = %d, want 1", got)
	}
	_ = c.Close()
	deadline := time.Now().Add(wait)
	for hub.Stats().Connections[sse.Transport] != 0 {
		if time.Now().After(deadline) {
			t.Fatal("stream of a departed client still registered")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
