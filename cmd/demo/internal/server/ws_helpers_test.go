package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
)

// wsConn is a raw WebSocket client connection.
type wsConn struct {
	t *testing.T
	c *websocket.Conn
}

// wsURL turns the server's http URL into ws://.
func (ts *testServer) wsURL(path string) string {
	return "ws://" + strings.TrimPrefix(ts.url, "http://") + path
}

// dialWS opens a WebSocket; it fails the test unless the upgrade succeeds.
func (ts *testServer) dialWS(path string, header ...string) *wsConn {
	ts.t.Helper()
	c, res, err := ts.tryDialWS(path, header...)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		ts.t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	return c
}

func (ts *testServer) tryDialWS(path string, header ...string) (*wsConn, *http.Response, error) {
	return dialWSWith(ts.t, ts.client, ts.wsURL(path), header...)
}

func dialWSWith(t *testing.T, client *http.Client, url string, header ...string) (*wsConn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	for _, kv := range header {
		k, v, _ := strings.Cut(kv, ":")
		h.Set(k, strings.TrimSpace(v))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client, HTTPHeader: h})
	if err != nil {
		return nil, res, err
	}
	c.SetReadLimit(-1)
	t.Cleanup(func() { _ = c.CloseNow() })
	return &wsConn{t: t, c: c}, res, nil
}

// read returns the next text frame, or the error that ended the connection.
func (w *wsConn) read() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err == nil && typ != websocket.MessageText {
		w.t.Fatalf("frame type %v, want text", typ)
	}
	return b, err
}

// frameType returns a frame's "type".
func frameType(t *testing.T, b []byte) string {
	t.Helper()
	var f struct{ Type string }
	if err := json.Unmarshal(b, &f); err != nil || f.Type == "" {
		t.Fatalf("frame %q has no type: %v", b, err)
	}
	return f.Type
}

// next returns the next frame that is not an app-level ping.
func (w *wsConn) next() []byte {
	w.t.Helper()
	for {
		b, err := w.read()
		if err != nil {
			w.t.Fatalf("reading WebSocket: %v", err)
		}
		if frameType(w.t, b) != transports.TypePing {
			return b
		}
	}
}

// nextEvent skips control frames and returns the next event's raw JSON.
func (w *wsConn) nextEvent() []byte {
	w.t.Helper()
	for {
		b := w.next()
		if frameType(w.t, b) == transports.TypeEvent {
			return b
		}
	}
}

// nextControl returns the next non-ping control frame, failing on events.
func (w *wsConn) nextControl() []byte {
	w.t.Helper()
	b := w.next()
	if frameType(w.t, b) == transports.TypeEvent {
		w.t.Fatalf("got event %s, want a control frame", b)
	}
	return b
}

// untilClose reads every event until the server closes; it returns them
// and the close status.
func (w *wsConn) untilClose() ([][]byte, websocket.StatusCode) {
	w.t.Helper()
	var evs [][]byte
	for {
		b, err := w.read()
		if err != nil {
			st := websocket.CloseStatus(err)
			if st == -1 {
				w.t.Fatalf("connection failed without a close frame after %d events: %v", len(evs), err)
			}
			return evs, st
		}
		if frameType(w.t, b) == transports.TypeEvent {
			evs = append(evs, b)
		}
	}
}

// closeReason reads until the close frame and returns it.
func (w *wsConn) closeReason() websocket.CloseError {
	w.t.Helper()
	for {
		_, err := w.read()
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				w.t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce
		}
	}
}

func (w *wsConn) send(cmd string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(cmd)); err != nil {
		w.t.Fatalf("send %s: %v", cmd, err)
	}
}

func wireEvent(t *testing.T, b []byte) transports.WireEvent {
	t.Helper()
	var e transports.WireEvent
	if err := json.Unmarshal(b, &e); err != nil || e.Type != transports.TypeEvent {
		t.Fatalf("%q is not an event: %v", b, err)
	}
	return e
}

// attached reads the n "subscribed" frames a new multi-topic connection
// gets once attached (one per topic starting live).
func (w *wsConn) attached(n int) *wsConn {
	w.t.Helper()
	for range n {
		if b := w.nextControl(); frameType(w.t, b) != transports.TypeSubscribed {
			w.t.Fatalf("got %s, want subscribed", b)
		}
	}
	return w
}
