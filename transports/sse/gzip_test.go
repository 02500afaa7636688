package sse_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
)

// With Config.Gzip a client that accepts gzip gets a gzip stream in which
// every batch is flushed: each event can be read as soon as it is
// published, not when a compressor's buffer fills. Detached, attached and
// over HTTP/2 alike; a client that does not accept gzip gets plain text.
func TestGzipFlushesEveryBatch(t *testing.T) {
	for _, tt := range []struct {
		name          string
		detach, http2 bool
	}{{"attached", false, false}, {"detached", true, false}, {"http2", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{cfg: sse.Config{Gzip: true, Detach: tt.detach}, http2: tt.http2})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			res := e.get(t, ctx, "/sse?topic=gz", http.Header{"Accept-Encoding": {"gzip, deflate"}})
			defer res.Body.Close()
			if ce, vary := res.Header.Get("Content-Encoding"), res.Header.Get("Vary"); ce != "gzip" || vary != "Accept-Encoding" {
				t.Fatalf("Content-Encoding %q, Vary %q", ce, vary)
			}
			lines := make(chan string, 64)
			go func() { // owner: the test; ends when the body is closed
				defer close(lines)
				zr, err := gzip.NewReader(res.Body)
				if err != nil {
					return
				}
				br := bufio.NewReader(zr)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if d, ok := strings.CutPrefix(l, "data: "); ok {
						lines <- strings.TrimSuffix(d, "\n")
					}
				}
			}()
			waitSSE(t, e.hub, 1)
			for i := range 5 {
				ev := e.publish(t, "gz", "progress", fmt.Sprintf(`{"i":%d}`, i))
				select {
				case got := <-lines:
					if got != string(ev.JSON()) {
						t.Fatalf("event %d: %s, want %s", i, got, ev.JSON())
					}
				case <-time.After(wait):
					t.Fatalf("event %d never left the compressor", i)
				}
			}
			res.Body.Close()
			for range lines {
			}

			plain := e.get(t, ctx, "/sse?topic=gz", http.Header{"Accept-Encoding": {"identity"}})
			defer plain.Body.Close()
			if ce := plain.Header.Get("Content-Encoding"); ce != "" {
				t.Fatalf("without gzip in Accept-Encoding: Content-Encoding %q", ce)
			}
		})
	}
}

func waitSSE(t *testing.T, hub *transports.Hub, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for hub.Stats().Connections[sse.Transport] < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d SSE connections, want %d", hub.Stats().Connections[sse.Transport], n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A gzip bomb from a server: 64 MiB of one data line in 64 KB on the wire.
// The client bounds an event after decompression (1 MiB), so it neither
// delivers it nor holds the inflated bytes: it drops the connection and
// retries, having allocated a few MiB at most.
func TestClientGzipBomb(t *testing.T) {
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	_, _ = zw.Write([]byte("retry: 10\n\ndata: "))
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 64 {
		_, _ = zw.Write(chunk)
	}
	_, _ = zw.Write([]byte("\n\n"))
	_ = zw.Close()
	served := make(chan struct{}, 100)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb.Bytes())
		select {
		case served <- struct{}{}:
		default:
		}
	}))
	defer ts.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	events := 0
	ctx, cancel := context.WithCancel(context.Background())
	c := sse.NewClient(sse.ClientConfig{URL: ts.URL, OnEvent: func(transports.WireEvent) { events++ },
		OnControl: func([]byte) { events++ }, Backoff: transports.Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond}})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }() // owner: the test, which waits for done
	for range 2 {
		select {
		case <-served:
		case <-time.After(wait):
			t.Fatal("the client did not connect twice")
		}
	}
	cancel()
	<-done
	runtime.ReadMemStats(&after)
	if events != 0 {
		t.Fatalf("the bomb was delivered (%d messages)", events)
	}
	t.Logf("allocated %d KiB over two connections", (after.TotalAlloc-before.TotalAlloc)>>10)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 16<<20 {
		t.Fatalf("the client allocated %d MiB for a 64 MiB bomb, want a bounded few", grown>>20)
	}
}
