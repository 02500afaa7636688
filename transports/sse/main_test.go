package sse_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/taskstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wait is the generous timeout for anything a test waits for.
const wait = 15 * time.Second

// env is a hub, an SSE server and a real HTTP server on 127.0.0.1.
type env struct {
	hub *transports.Hub
	srv *sse.Server
	ts  *httptest.Server

	mu      sync.Mutex
	lastIDs []string // Last-Event-ID header of every stream request, in order
}

type envOpts struct {
	hub    transports.HubConfig
	cfg    sse.Config
	server func(*http.Server) // adjusts the http.Server before it starts
	http2  bool               // serve HTTP/2 over TLS
}

// newEnv serves /sse and /sse/tasks/{id}; the task resolver knows a task
// when its topic has an event.
func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.hub.Terminal == nil {
		o.hub.Terminal = taskstream.IsTerminal // task streams end, as in the demo
	}
	if o.hub.Presence == nil {
		o.hub.Presence = chat.Presence // join and leave events, as in the demo
	}
	e := &env{hub: transports.NewHub(o.hub)}
	cfg := o.cfg
	cfg.Hub = e.hub
	if cfg.Retry == 0 {
		cfg.Retry = 20 * time.Millisecond
	}
	if os.Getenv(detachEnv) == "1" {
		cfg.Detach = true // TestDetached runs the suite's server tests this way
	}
	e.srv = sse.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("GET /sse", e.srv)
	mux.Handle("/sse/tasks/{id}", e.srv.Stream(func(r *http.Request) (transports.Stream, error) {
		topic := taskstream.Topic(r.PathValue("id"))
		if e.hub.Latest(topic) == nil {
			return transports.Stream{}, fmt.Errorf("task %s: %w", r.PathValue("id"), transports.ReasonNotFound)
		}
		return transports.Stream{Topics: []string{topic}}, nil
	}))
	e.ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.lastIDs = append(e.lastIDs, r.Header.Get("Last-Event-ID"))
		e.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	if o.server != nil {
		o.server(e.ts.Config)
	}
	if o.http2 {
		e.ts.EnableHTTP2 = true
		e.ts.StartTLS()
	} else {
		e.ts.Start()
	}
	t.Cleanup(func() {
		e.hub.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		e.ts.Close()
	})
	return e
}

func (e *env) headers() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.lastIDs...)
}

func (e *env) publish(t *testing.T, topic, kind, data string) *transports.Event {
	t.Helper()
	ev, err := e.hub.Publish(context.Background(), topic, kind, json.RawMessage(data))
	if err != nil {
		t.Fatalf("publish %s/%s: %v", topic, kind, err)
	}
	return ev
}

// frame is one raw SSE frame: the lines up to a blank line.
type frame struct {
	lines []string
}

func (f frame) field(name string) (string, bool) {
	for _, l := range f.lines {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return v, true
		}
	}
	return "", false
}

func (f frame) String() string { return strings.Join(f.lines, "\\n") }

// isEvent reports whether the frame carries an event (its data is one).
func (f frame) event(t *testing.T) (transports.WireEvent, bool) {
	t.Helper()
	d, ok := f.field("data")
	if !ok {
		return transports.WireEvent{}, false
	}
	var we transports.WireEvent
	if err := json.Unmarshal([]byte(d), &we); err != nil {
		t.Fatalf("frame data is not JSON: %q", d)
	}
	return we, we.Type == transports.TypeEvent
}

// raw is a stream read frame by frame with a plain HTTP client, so tests
// see the exact bytes.
type raw struct {
	res    *http.Response
	frames chan frame
	done   chan struct{}
	err    error // why reading ended; read after done
	ctx    context.Context
	cancel context.CancelFunc
}

// dial opens a stream and checks for 200 text/event-stream.
func (e *env) dial(t *testing.T, path string, hdr http.Header) *raw {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res := e.get(t, ctx, path, hdr)
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s", path, res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q, want exactly text/event-stream", ct)
	}
	r := &raw{res: res, frames: make(chan frame, 64), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	go r.read() // owner: r; ends when the body closes, and r.close (a cleanup) waits for it
	t.Cleanup(r.close)
	return r
}

// get sends a GET on its own connection; the caller closes the body.
func (e *env) get(t *testing.T, ctx context.Context, path string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if e.ts.TLS != nil {
		client = e.ts.Client() // HTTP/2
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return res
}

func (r *raw) read() {
	defer close(r.done)
	defer close(r.frames)
	br := bufio.NewReader(r.res.Body)
	var f frame
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(f.lines) > 0 {
				select {
				case r.frames <- f:
				case <-r.ctx.Done():
					r.err = r.ctx.Err()
					return
				}
			}
			f = frame{}
			continue
		}
		f.lines = append(f.lines, line)
	}
}

func (r *raw) close() {
	r.cancel()
	r.res.Body.Close()
	<-r.done
}

// next returns the next frame, failing the test if the stream ends or
// nothing comes in time.
func (r *raw) next(t *testing.T) frame {
	t.Helper()
	select {
	case f, ok := <-r.frames:
		if !ok {
			t.Fatalf("stream ended (%v) while a frame was expected", r.err)
		}
		return f
	case <-time.After(wait):
		t.Fatal("no frame in time")
	}
	return frame{}
}

// nextEvent skips heartbeats and field-only frames and returns the next
// event frame with its decoded event.
func (r *raw) nextEvent(t *testing.T) (frame, transports.WireEvent) {
	t.Helper()
	for {
		f := r.next(t)
		if we, ok := f.event(t); ok {
			return f, we
		}
		if _, ok := f.field("data"); ok {
			t.Fatalf("unexpected control frame %s", f)
		}
	}
}

// end waits for the response to end and returns why reading stopped
// (io.EOF for a clean end), failing on any further event frame.
func (r *raw) end(t *testing.T) error {
	t.Helper()
	for {
		select {
		case f, ok := <-r.frames:
			if !ok {
				return r.err
			}
			if _, ok := f.field("data"); ok {
				t.Fatalf("frame %s where the end of the stream was expected", f)
			}
		case <-time.After(wait):
			t.Fatal("stream did not end in time")
		}
	}
}

// errorBody reads a JSON error response.
func errorBody(t *testing.T, res *http.Response) transports.ErrorFrame {
	t.Helper()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	var f transports.ErrorFrame
	if err := json.NewDecoder(res.Body).Decode(&f); err != nil {
		t.Fatalf("error body: %v", err)
	}
	return f
}

var errNotEOF = errors.New("not a clean end")

func cleanEnd(err error) error {
	if err == io.EOF {
		return nil
	}
	return fmt.Errorf("%w: %v", errNotEOF, err)
}
