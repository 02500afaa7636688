package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/taskstream"
	"github.com/twinstream/twinstream/transports/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait is the generous bound of every wait in these tests: they assert
// what happens, never how fast.
const wait = 20 * time.Second

// env is a hub and a WebSocket server on a real socket:
// /ws is ServeHTTP, /ws/tasks/{id} a task-like Stream of topic task:<id>
// for ids registered with addTask.
type env struct {
	hub *transports.Hub
	srv *ws.Server
	ts  *httptest.Server
	hc  *http.Client // for raw dials: its idle connections are closed at cleanup
	url string       // ws://127.0.0.1:port

	mu    sync.Mutex
	tasks map[string]bool
}

func newEnv(t *testing.T, cfg ws.Config, hcfg transports.HubConfig) *env {
	t.Helper()
	e := &env{tasks: map[string]bool{}}
	if hcfg.Terminal == nil {
		hcfg.Terminal = taskstream.IsTerminal // task streams end, as in the demo
	}
	if hcfg.Presence == nil {
		hcfg.Presence = chat.Presence // join and leave events, as in the demo
	}
	e.hub = transports.NewHub(hcfg)
	cfg.Hub = e.hub
	e.srv = ws.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("GET /ws", e.srv)
	mux.Handle("GET /ws/tasks/{id}", e.srv.Stream(e.resolve))
	e.ts = httptest.NewServer(mux)
	e.url = "ws" + strings.TrimPrefix(e.ts.URL, "http")
	e.hc = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		e.hub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.ts.Close()
		e.hc.CloseIdleConnections()
	})
	return e
}

func (e *env) addTask(id string) {
	e.mu.Lock()
	e.tasks[id] = true
	e.mu.Unlock()
}

func (e *env) resolve(r *http.Request) (transports.Stream, error) {
	id := r.PathValue("id")
	e.mu.Lock()
	ok := e.tasks[id]
	e.mu.Unlock()
	if !ok {
		return transports.Stream{}, fmt.Errorf("no task %q: %w", id, transports.ReasonNotFound)
	}
	topic := taskstream.Topic(id)
	return transports.Stream{Topics: []string{topic}, Single: topic, Snapshot: true, EndOnTerminal: true}, nil
}

func (e *env) publish(t *testing.T, topic, kind, data string) *transports.Event {
	t.Helper()
	ev, err := e.hub.Publish(context.Background(), topic, kind, json.RawMessage(data))
	if err != nil {
		t.Fatalf("publish %s %s: %v", topic, kind, err)
	}
	return ev
}

// waitFor polls cond until it holds or the test's patience ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frame is any server frame, decoded.
type frame struct {
	Type    string            `json:"type"`
	Topic   string            `json:"topic"`
	Seq     uint64            `json:"seq"`
	Event   string            `json:"event"`
	TS      int64             `json:"ts"`
	Data    json.RawMessage   `json:"data"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields"`
	ID      string            `json:"id"`
	Size    int               `json:"size"`

	raw string
}

func (f frame) String() string { return f.raw }

// raw is a test client on coder/websocket with no logic of its own.
type raw struct {
	t *testing.T
	c *websocket.Conn
}

// dial opens path (e.g. "/ws?client_id=alice") and fails the test if the
// upgrade fails.
func (e *env) dial(t *testing.T, path string, opts *websocket.DialOptions) *raw {
	t.Helper()
	c, _, err := e.tryDial(path, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	r := &raw{t: t, c: c}
	t.Cleanup(func() { _ = c.CloseNow() })
	return r
}

func (e *env) tryDial(path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = e.hc
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, e.url+path, opts)
	if c != nil {
		c.SetReadLimit(1 << 20)
	}
	return c, resp, err
}

// read returns the next frame; it fails the test on a close or error.
func (r *raw) read() frame {
	r.t.Helper()
	f, err := r.tryRead()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return f
}

func (r *raw) tryRead() (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, b, err := r.c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	if typ != websocket.MessageText {
		return frame{}, fmt.Errorf("got a %v frame", typ)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return frame{}, fmt.Errorf("frame is not JSON: %v: %s", err, b)
	}
	f.raw = string(b)
	return f, nil
}

// next returns the next frame that is not a heartbeat ping.
func (r *raw) next() frame {
	r.t.Helper()
	for {
		f := r.read()
		if f.Type != transports.TypePing {
			return f
		}
	}
}

// event returns the next event frame, failing on anything else.
func (r *raw) event() frame {
	r.t.Helper()
	f := r.next()
	if f.Type != transports.TypeEvent {
		r.t.Fatalf("want an event, got %s", f)
	}
	return f
}

// subscribed consumes the subscribed frames sent on connect for topics.
func (r *raw) subscribed(topics ...string) {
	r.t.Helper()
	for _, topic := range topics {
		f := r.next()
		if f.Type != transports.TypeSubscribed || f.Topic != topic {
			r.t.Fatalf("want subscribed %s, got %s", topic, f)
		}
	}
}

func (r *raw) send(s string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("write %s: %v", s, err)
	}
}

// closed reads until the connection ends and returns the close error.
func (r *raw) closed() websocket.CloseError {
	r.t.Helper()
	for {
		f, err := r.tryRead()
		if err == nil {
			if f.Type == transports.TypePing {
				continue
			}
			r.t.Fatalf("want a close, got %s", f)
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			r.t.Fatalf("want a close frame, got %v", err)
		}
		return ce
	}
}

func (r *raw) wantClose(code websocket.StatusCode, text string) {
	r.t.Helper()
	ce := r.closed()
	if ce.Code != code || (text != "" && ce.Reason != text) {
		r.t.Fatalf("closed with %d %q, want %d %q", ce.Code, ce.Reason, code, text)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
