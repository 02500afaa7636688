package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// sseFrame is one parsed SSE frame (comment lines are skipped).
type sseFrame struct {
	id, data, retry string
	hasID           bool
}

// isEvent reports whether the frame carries an event (not a control frame
// or the id/retry-only first frame).
func (f sseFrame) isEvent() bool { return strings.HasPrefix(f.data, `{"type":"event"`) }

func (f sseFrame) event(t *testing.T) transports.WireEvent {
	t.Helper()
	var e transports.WireEvent
	if err := json.Unmarshal([]byte(f.data), &e); err != nil || e.Type != "event" {
		t.Fatalf("frame data %q is not an event: %v", f.data, err)
	}
	return e
}

// sseConn is a raw SSE response read frame by frame.
type sseConn struct {
	t      *testing.T
	res    *http.Response
	r      *bufio.Reader
	cancel context.CancelFunc
}

// openSSE GETs path with optional headers ("Name: value") and returns the
// response (any status). Closing happens at test end if not before.
func (ts *testServer) openSSE(path string, headers ...string) *sseConn {
	ts.t.Helper()
	return openSSEWith(ts.t, ts.client, ts.url+path, headers...)
}

func openSSEWith(t *testing.T, client *http.Client, url string, headers ...string) *sseConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		if h == "" {
			continue
		}
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	c := *client
	c.Timeout = 0 // a stream outlives any client timeout
	res, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", url, err)
	}
	sc := &sseConn{t: t, res: res, r: bufio.NewReader(res.Body), cancel: cancel}
	t.Cleanup(sc.close)
	return sc
}

func (c *sseConn) close() {
	c.cancel()
	c.res.Body.Close()
}

// expectStream asserts a 200 text/event-stream response.
func (c *sseConn) expectStream() *sseConn {
	c.t.Helper()
	if c.res.StatusCode != http.StatusOK || !strings.HasPrefix(c.res.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(c.res.Body)
		c.t.Fatalf("status %d, Content-Type %q, want an event stream; body %s", c.res.StatusCode, c.res.Header.Get("Content-Type"), b)
	}
	return c
}

// next reads the next frame; io.EOF when the response ended.
func (c *sseConn) next() (sseFrame, error) {
	var f sseFrame
	seen := false
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && !seen {
				return f, io.EOF
			}
			return f, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if seen {
				return f, nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // comment (heartbeat)
		}
		seen = true
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			f.id, f.hasID = value, true
		case "data":
			if f.data != "" {
				f.data += "\n"
			}
			f.data += value
		case "retry":
			f.retry = value
		}
	}
}

// nextEvent skips non-event frames and returns the next event frame.
func (c *sseConn) nextEvent() sseFrame {
	c.t.Helper()
	for {
		f, err := c.next()
		if err != nil {
			c.t.Fatalf("reading SSE: %v", err)
		}
		if f.isEvent() {
			return f
		}
	}
}

// events reads every event frame until the response ends.
func (c *sseConn) events() []sseFrame {
	c.t.Helper()
	var out []sseFrame
	for {
		f, err := c.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			c.t.Fatalf("reading SSE after %d events: %v", len(out), err)
		}
		if f.isEvent() {
			out = append(out, f)
		}
	}
}

// dialFrom returns an HTTP client whose connections come from local IP src
// (127.0.0.x), to act as another client address.
func dialFrom(t *testing.T, src string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}
