package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// wclient is one load-generating client: a transport's Go client whose
// HTTP round trips it observes. A round trip that returns the stream's
// response is a connection established (its duration is the connect time);
// the response body closing or failing is the connection lost. This works
// the same for both transports (the WebSocket handshake is an HTTP request
// too) and does not depend on the client library's callbacks.
type wclient struct {
	w      *worker
	idx    int
	stream int
	sub    *Sub
	base   http.RoundTripper
	dial   func(ctx context.Context, network, addr string) (net.Conn, error) // lean clients: base's dialer
	ctx    context.Context
	cancel context.CancelFunc

	established, connected, failed, settled, ended atomic.Bool
	backNS                                         atomic.Int64
}

// runLoop runs the transport client until the worker stops it, the stream
// ends, or (NoReconnect) the first failure. With WorkerSpec.Client lean,
// or for a target that is not twinstream (WorkerSpec.Adapters), it runs a
// lean client instead (runLean, lean.go).
func (c *wclient) runLoop(url string) {
	if c.w.spec.Client == ClientLean || c.w.adapter(c.sub.target) != nil {
		c.runLean(url)
		return
	}
	defer c.cancel()
	p := clientParams{
		URL:        url,
		HTTPClient: &http.Client{Transport: c},
		Backoff:    c.w.spec.Backoff.Backoff(),
		OnEvent:    func(e transports.WireEvent) { c.sub.Event(e, time.Now()) },
		OnControl:  c.control,
		// (wiredial.go meters the connections underneath)
		WSCompression: c.w.spec.WSCompression,
	}
	err := c.w.run(c.ctx, p)
	switch {
	case c.ctx.Err() != nil:
	case err == nil:
		c.streamEnded()
	default:
		c.fail("client gave up: "+causeOf(err), true)
	}
}

func (c *wclient) streamEnded() {
	if c.ended.CompareAndSwap(false, true) {
		c.w.ended.Add(1)
		c.settle()
	}
}

func (c *wclient) settle() {
	if c.settled.CompareAndSwap(false, true) {
		c.w.settled.Add(1)
	}
}

// fail counts a failure by cause. With NoReconnect, or when the client
// gave up (final), the client is failed for good and stopped.
func (c *wclient) fail(cause string, final bool) {
	if c.w.finishing.Load() || c.ended.Load() {
		return
	}
	c.w.addFailure(cause)
	if c.w.spec.NoReconnect || final {
		if c.failed.CompareAndSwap(false, true) {
			c.w.failed.Add(1)
			c.settle()
		}
		c.cancel()
	}
}

// control watches control frames for errors the server sends before
// ending a stream (too_many_connections, slow_consumer).
func (c *wclient) control(raw []byte) {
	var f struct {
		Type string `json:"type"`
		Code string `json:"code"`
	}
	if json.Unmarshal(raw, &f) == nil && f.Type == transports.TypeError {
		c.fail("error frame: "+f.Code, false)
	}
}

// RoundTrip implements http.RoundTripper around the worker's transport.
func (c *wclient) RoundTrip(req *http.Request) (*http.Response, error) {
	if !c.established.Load() {
		select { // bound first handshakes in flight (reconnects are not held back)
		case c.w.dialSem <- struct{}{}:
			defer func() { <-c.w.dialSem }()
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	start := time.Now()
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		if req.Context().Err() == nil {
			c.fail(causeOf(err), false)
		}
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusSwitchingProtocols,
		resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
		now := time.Now()
		c.w.recordConnect(now.Sub(start))
		c.up(now)
		resp.Body = trackBody(resp.Body, c)
	case resp.StatusCode == http.StatusNoContent:
		c.streamEnded() // an SSE task stream that already ended
	default:
		c.fail(fmt.Sprintf("http %d", resp.StatusCode), false)
	}
	return resp, nil
}

func (c *wclient) up(now time.Time) {
	if !c.connected.CompareAndSwap(false, true) {
		return
	}
	n := c.w.connected.Add(1)
	for p := c.w.peak.Load(); n > p && !c.w.peak.CompareAndSwap(p, n); p = c.w.peak.Load() {
	}
	if c.established.CompareAndSwap(false, true) {
		c.w.established.Add(1)
		c.settle()
	} else {
		c.w.reconnects.Add(1)
	}
	if m := c.w.markNS.Load(); m > 0 && now.UnixNano() >= m && c.backNS.CompareAndSwap(0, now.UnixNano()) {
		c.w.back.Add(1)
	}
}

func (c *wclient) down(err error) {
	if !c.connected.CompareAndSwap(true, false) {
		return
	}
	c.w.connected.Add(-1)
	if c.ctx.Err() != nil || c.w.finishing.Load() {
		return // we closed it
	}
	cause := "closed"
	if err != nil {
		cause = causeOf(err)
	}
	if c.w.spec.NoReconnect {
		when := "lost during ramp: "
		if c.w.holding.Load() {
			when = "lost during hold: "
		}
		c.fail(when+cause, false)
		return
	}
	c.w.addDisconnect(cause)
}

// trackBody wraps a stream's response body to see the connection end. A
// WebSocket's body must stay an io.ReadWriteCloser.
func trackBody(b io.ReadCloser, c *wclient) io.ReadCloser {
	tb := &trackedBody{ReadCloser: b, c: c}
	if w, ok := b.(io.ReadWriteCloser); ok {
		return &trackedRWBody{trackedBody: tb, w: w}
	}
	return tb
}

type trackedBody struct {
	io.ReadCloser
	c    *wclient
	once sync.Once
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.once.Do(func() { b.c.down(err) })
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { b.c.down(nil) })
	return b.ReadCloser.Close()
}

type trackedRWBody struct {
	*trackedBody
	w io.ReadWriteCloser
}

func (b *trackedRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// causeOf names an error's cause briefly, without addresses or ports, so
// that failures can be counted by cause.
func causeOf(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, context.DeadlineExceeded), os.IsTimeout(err):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files (loadgen)"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "no free local port"
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op + ": " + scrub(op.Err.Error())
	}
	return scrub(err.Error())
}

// scrub removes digits (ports, addresses, ids) and bounds the length.
func scrub(s string) string {
	b := []byte(s)
	out := b[:0]
	for i, ch := range b {
		if ch >= '0' && ch <= '9' {
			if i > 0 && b[i-1] >= '0' && b[i-1] <= '9' {
				continue
			}
			ch = 'N'
		}
		out = append(out, ch)
	}
	if len(out) > 80 {
		out = out[:80]
	}
	return string(out)
}

func dataDigest(d []byte) string {
	sum := sha256.Sum256(d)
	return hex.EncodeToString(sum[:8])
}

// dataStatus is data.status of an event ("" if it has none).
func dataStatus(d []byte) string {
	var v struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(d, &v) != nil {
		return ""
	}
	return v.Status
}
