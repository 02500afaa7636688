package ws_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/pathbench"
	"github.com/twinstream/twinstream/transports/ws"
)

func TestParseCompression(t *testing.T) {
	t.Parallel()
	for _, name := range []string{ws.CompressionDisabled, ws.CompressionContextTakeover, ws.CompressionNoContextTakeover} {
		m, err := ws.ParseCompression(name)
		if err != nil || ws.CompressionName(m) != name {
			t.Errorf("ParseCompression(%q) = %v, %v; name back %q", name, m, err, ws.CompressionName(m))
		}
	}
	if m, err := ws.ParseCompression(""); err != nil || m != websocket.CompressionDisabled {
		t.Errorf(`ParseCompression("") = %v, %v`, m, err)
	}
	if _, err := ws.ParseCompression("gzip"); err == nil {
		t.Error("ParseCompression(gzip) accepted")
	}
}

// Compression is negotiated only when the server offers it and the client
// asks; either way every event arrives intact, in order.
func TestCompressionNegotiation(t *testing.T) {
	t.Parallel()
	big := `{"doc":"` + strings.Repeat("twinstream compresses repetitive JSON ", 40) + `"}`
	for _, tt := range []struct {
		name           string
		server, client websocket.CompressionMode
		want           string // Sec-WebSocket-Extensions of the answer
	}{
		{"server off", websocket.CompressionDisabled, websocket.CompressionContextTakeover, ""},
		{"client off", websocket.CompressionContextTakeover, websocket.CompressionDisabled, ""},
		{"context takeover", websocket.CompressionContextTakeover, websocket.CompressionContextTakeover, "permessage-deflate"},
		{"no context takeover", websocket.CompressionNoContextTakeover, websocket.CompressionNoContextTakeover,
			"permessage-deflate; client_no_context_takeover; server_no_context_takeover"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ws.Config{Compression: tt.server}, transports.HubConfig{})
			c, resp, err := e.tryDial("/ws?topic=doc", &websocket.DialOptions{CompressionMode: tt.client})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != tt.want {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q", got, tt.want)
			}
			r := &raw{t: t, c: c}
			r.subscribed("doc")
			var sent []*transports.Event
			for range 20 {
				sent = append(sent, e.publish(t, "doc", "progress", big))
			}
			for _, ev := range sent {
				if f := r.event(); f.raw != string(ev.JSON()) {
					t.Fatalf("got %s\nwant %s", f.raw, ev.JSON())
				}
			}
		})
	}
}

// pathSetupDeflate is pathSetup with permessage-deflate negotiated.
func pathSetupDeflate(hub *transports.Hub, topic string) (http.Handler, func() *http.Request, func([]byte) int, func()) {
	srv := ws.New(ws.Config{Hub: hub, Detach: true, Heartbeat: time.Hour, IdleTimeout: time.Hour,
		Compression: websocket.CompressionContextTakeover})
	req := pathbench.Request("/ws?topic="+topic, http.Header{
		"Connection":               {"Upgrade"},
		"Upgrade":                  {"websocket"},
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Key":        {"dGhlIHNhbXBsZSBub25jZQ=="},
		"Sec-Websocket-Extensions": {"permessage-deflate"},
	})
	stop := func() {
		hub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), pathbench.Wait)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	return srv, req, textFrames, stop
}

// With permessage-deflate the batch goes through coder/websocket, message
// by message, and still leaves in one write.
func TestCompressedBacklogIsOneWrite(t *testing.T) {
	if got := pathbench.Backlog(t, pathSetupDeflate, 50); got != 2 {
		t.Fatalf("51 compressed events (1 held, then 50 queued) took %d writes, want 2", got)
	}
}

// A compression bomb: a message of a few hundred bytes on the wire that
// inflates past the read limit closes the connection with 1009, as an
// uncompressed message over the limit does. The limit is on the
// decompressed size.
func TestReadLimitDecompressed(t *testing.T) {
	t.Parallel()
	for _, mode := range []websocket.CompressionMode{websocket.CompressionContextTakeover, websocket.CompressionNoContextTakeover} {
		t.Run(ws.CompressionName(mode), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, ws.Config{ReadLimit: 4 << 10, Compression: mode}, transports.HubConfig{})
			c, resp, err := e.tryDial("/ws?client_id=alice", &websocket.DialOptions{CompressionMode: mode, CompressionThreshold: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
				t.Fatal("compression not negotiated")
			}
			r := &raw{t: t, c: c}
			r.subscribed("client:alice", "broadcast")
			// Under the limit once inflated: answered (not a command).
			r.send(`"` + strings.Repeat("x", 4<<10-3) + `"`)
			if f := r.next(); f.Code != transports.CodeInvalidMessage {
				t.Fatalf("got %s", f)
			}
			// 1 MiB inflated from about a kilobyte on the wire.
			r.send(`"` + strings.Repeat("x", 1<<20) + `"`)
			r.wantClose(websocket.StatusMessageTooBig, "")
		})
	}
}
