package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/sse"
	"github.com/twinstream/twinstream/transports/ws"
)

// The lean clients (WorkerSpec.Client = ClientLean) are what a fanout or
// connect subscriber needs of a WebSocket or SSE client and nothing more.
// A client's goroutine dials from the worker's source address, writes the
// upgrade or GET by hand and reads the response headers; then the
// connection's receive side goes to the worker's leanPoller (a few reactor
// goroutines over epoll sets, leanpoll_linux.go), which feeds what arrives
// to a push parser (leanws.go, leansse.go) that allocates nothing per
// event. Every event still goes
// through the same Sub as the product clients' (seq accounting, latency
// from ts and from the payload's schedule), and a connection is observed
// through the same wclient counters: connect time from dial to the 101 or
// 200 headers, established, lost, failures by cause.
//
// They behave like the product clients where fanout and connect can tell:
// they answer protocol and app-level pings as ws.Client does, reconnect
// after the spec's backoff and resume from the last seq received (the
// WebSocket with last_event_id, SSE with Last-Event-ID and the server's
// retry:), stop at a normal end (close 1000, 204) and give up on a refusal
// (close 1008/1009/4004/4400, an HTTP refusal). With NoReconnect the first
// loss is a failure, as for wclient.

// leanClient is one lean subscriber: the wclient it reports through and
// the state that survives its reconnects. Between sessions only its own
// goroutine touches it; during a session, the poller that feeds it.
//
// What every event touches comes first, in few cache lines: with
// thousands of connections and 100 ms between two events of one, a
// connection's state is out of the CPU caches by the time its next event
// arrives, and every line touched costs a memory access.
type leanClient struct {
	sub *Sub // c.sub
	// Resume position: the last seq per URL topic (WebSocket; single is
	// a stream whose URL names no topic), or the SSE stream's last event
	// ID (in sse). urlTopics shares the stream's topic strings with the
	// worker's other clients where it can.
	urlTopics []string
	cursors   []uint64
	haveCur   []bool
	curBuf    [2]uint64 // cursors and haveCur of up to two topics, inline
	haveBuf   [2]bool
	single    bool
	ws        bool
	last      []byte // the latest event's data (Sub keeps a reference)
	wsp       wsParser
	sse       sseStream

	// adapter, for a target that is not twinstream, is its protocol on
	// this client's side: the URL and first message of each connection,
	// and the events in what arrives (nil: twinstream's wire format).
	adapter clientProto

	c      *wclient
	target *url.URL // the stream's URL (http or ws scheme)
	addr   string   // host:port to dial
	idle   time.Duration
	retry  time.Duration // SSE: the server's retry:
}

// leanMaxMessage bounds one message or line, as ws.Client's read limit
// does.
const leanMaxMessage = 16 << 20

// errLeanEnded is a session's error when the stream ended normally (close
// 1000, 204).
var errLeanEnded = errors.New("bench: stream ended")

// leanFinal wraps an error after which the server asks not to come back.
type leanFinal struct{ err error }

func (f *leanFinal) Error() string { return f.err.Error() }
func (f *leanFinal) Unwrap() error { return f.err }

// A leanProto parses what one connection receives.
type leanProto interface {
	// feed parses b, the bytes received and not yet consumed, and returns
	// how many it consumed (an incomplete frame stays for the next call)
	// or why the connection must end. It may write through w.
	feed(b []byte, now time.Time, w leanWriter) (int, error)
	// goodbye is what to send before closing when ctx ends (nil: nothing).
	goodbye() []byte
}

// leanWriter sends on a connection a poller runs; each write is one
// small frame (pongs, close frames).
type leanWriter interface {
	write(b []byte) error
}

func newLeanClient(c *wclient, rawURL string) (*leanClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bench: lean client URL: %w", err)
	}
	l := &leanClient{c: c, sub: c.sub, target: u, ws: c.w.spec.Transport == WS}
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http", "ws":
			port = "80"
		default:
			return nil, fmt.Errorf("bench: lean clients speak plain HTTP only, not %q", u.Scheme)
		}
	}
	l.addr = net.JoinHostPort(u.Hostname(), port)
	q := u.Query()
	if id := q.Get("client_id"); id != "" {
		l.urlTopics = append(l.urlTopics, transports.ClientTopic(id), transports.TopicBroadcast)
	}
	for _, t := range q["topic"] {
		if !slices.Contains(l.urlTopics, t) {
			l.urlTopics = append(l.urlTopics, t)
		}
	}
	l.single = len(l.urlTopics) == 0
	if l.single {
		l.urlTopics = []string{""} // learned from the first event
	} else if st := c.w.spec.Streams[c.stream].Topics; slices.Equal(l.urlTopics, st) {
		l.urlTopics = st
	}
	if n := len(l.urlTopics); n <= len(l.curBuf) {
		l.cursors, l.haveCur = l.curBuf[:n], l.haveBuf[:n]
	} else {
		l.cursors, l.haveCur = make([]uint64, n), make([]bool, n)
	}
	l.idle = ws.DefaultClientIdleTimeout
	if !l.ws {
		l.idle = sse.DefaultClientIdleTimeout
	}
	l.wsp.l, l.sse.l = l, l
	l.sse.out = func(data []byte, now time.Time) { l.message(data, now) }
	if a := c.w.adapter(c.sub.target); a != nil {
		if l.adapter, err = a.newClientProto(c.w.spec.Transport, c.w.spec.Streams[c.stream].Topics); err != nil {
			return nil, err
		}
		l.sse.anyName = l.adapter.anyEventName()
	}
	return l, nil
}

// request is the path and query of the next connection: the adapter's, or
// the stream URL's with the resume position (WebSocket: last_event_id;
// SSE resumes with Last-Event-ID instead).
func (l *leanClient) request() (path, query string) {
	switch {
	case l.adapter != nil:
		return l.adapter.request()
	case l.ws:
		return l.target.EscapedPath(), l.resumeQuery()
	}
	return l.target.EscapedPath(), l.target.RawQuery
}

// runLean is runLoop for the lean clients.
func (c *wclient) runLean(rawURL string) {
	defer c.cancel()
	l, err := newLeanClient(c, rawURL)
	if err != nil {
		c.fail("client gave up: "+causeOf(err), true)
		return
	}
	backoff := c.w.spec.Backoff.Backoff()
	attempt := 0
	for {
		heard, err := l.session(c.ctx)
		var final *leanFinal
		switch {
		case c.ctx.Err() != nil:
			return
		case errors.Is(err, errLeanEnded):
			c.streamEnded()
			return
		case errors.As(err, &final):
			c.fail("client gave up: "+causeOf(final.err), true)
			return
		}
		if heard {
			attempt = 0
		}
		attempt++
		b := backoff
		if l.retry > 0 {
			b.Initial = l.retry // as in a browser: retry: replaces the first delay
		}
		t := time.NewTimer(b.Delay(attempt))
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session runs one connection until it ends; heard reports whether
// anything arrived on it.
func (l *leanClient) session(ctx context.Context) (heard bool, err error) {
	var req string
	var proto leanProto
	var key string
	if l.ws {
		key = wsKey()
		req = l.wsRequest(key)
		l.wsp.reset()
		proto = &l.wsp
	} else {
		req = l.sseRequest()
		proto = &l.sse
	}
	conn, resp, leftover, err := l.open(ctx, []byte(req))
	if err != nil {
		return false, err
	}
	if l.ws {
		err = checkUpgrade(resp, key)
		if hello := l.hello(); err == nil && hello != nil {
			_, err = conn.Write(appendFrame(nil, opText, hello))
		}
	} else {
		l.sse.reset(resp)
	}
	if err != nil {
		l.c.fail(causeOf(err), false)
		_ = conn.Close()
		l.c.down(err)
		return false, err
	}
	heard, err = l.c.w.leanPoller().serve(ctx, conn, leftover, proto, l.idle)
	if cap(l.last) > 64<<10 {
		l.last = nil
	}
	var ce *leanCloseError
	isClose := errors.As(err, &ce)
	if isClose && ce.code == 1000 {
		l.c.streamEnded() // before down: a completed stream is no lost connection
	}
	l.c.down(err)
	switch {
	case ctx.Err() != nil:
		return heard, ctx.Err()
	case isClose && ce.code == 1000:
		return heard, errLeanEnded
	case isClose && !ce.retryable():
		return heard, &leanFinal{err}
	}
	return heard, err
}

// open dials, sends the request and reads the response headers, observed
// the way wclient.RoundTrip observes a product client's round trip. On
// success the connection is established (wclient.up) and the caller owns
// conn; leftover is what arrived after the headers.
func (l *leanClient) open(ctx context.Context, req []byte) (conn net.Conn, resp *http.Response, leftover []byte, err error) {
	c := l.c
	if !c.established.Load() {
		select { // bound first handshakes in flight (reconnects are not held back)
		case c.w.dialSem <- struct{}{}:
			defer func() { <-c.w.dialSem }()
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		}
	}
	timeout := c.w.spec.HandshakeTimeout.D()
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err = c.dial(dctx, "tcp", l.addr)
	if err != nil {
		if ctx.Err() == nil {
			c.fail(causeOf(err), false)
		}
		return nil, nil, nil, err
	}
	_ = conn.SetDeadline(start.Add(timeout))
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(conn, 1<<10)
	if _, err = conn.Write(req); err == nil {
		resp, err = http.ReadResponse(br, nil)
	}
	if !stop() || err != nil {
		_ = conn.Close()
		if err == nil {
			err = dctx.Err()
		}
		if ctx.Err() == nil {
			c.fail(causeOf(err), false)
		}
		return nil, nil, nil, err
	}
	ok := resp.StatusCode == http.StatusSwitchingProtocols && l.ws ||
		resp.StatusCode == http.StatusOK && !l.ws && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	switch {
	case ok:
	case resp.StatusCode == http.StatusNoContent:
		_ = conn.Close()
		return nil, nil, nil, errLeanEnded
	default:
		_ = conn.Close()
		c.fail(fmt.Sprintf("http %d", resp.StatusCode), false)
		err = fmt.Errorf("bench: server answered %s", resp.Status)
		if l.giveUp(resp.StatusCode) {
			err = &leanFinal{err}
		}
		return nil, nil, nil, err
	}
	now := time.Now()
	c.w.recordConnect(now.Sub(start))
	c.up(now)
	_ = conn.SetDeadline(time.Time{})
	leftover, _ = br.Peek(br.Buffered())
	return conn, resp, slices.Clone(leftover), nil
}

// giveUp reports whether a status that is not a stream ends the client,
// as it ends the product clients: ws.Client retries anything but a 4xx
// refusal, sse.Client only 5xx, 408 and 429.
func (l *leanClient) giveUp(status int) bool {
	retry := status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
	if l.ws {
		return status >= 400 && status < 500 && !retry
	}
	return status < 500 && !retry
}

// event delivers one decoded event to the subscriber's accounting and
// moves the resume position.
func (l *leanClient) event(ev leanEvent, now time.Time) {
	i, topic := l.topic(ev.topic)
	// Sub keeps the latest event; data must outlive the read buffer.
	l.last = append(l.last[:0], ev.data...)
	l.sub.Event(transports.WireEvent{Type: transports.TypeEvent, Topic: topic, Seq: ev.seq,
		Event: leanKind(ev.kind), TS: ev.ts, Data: l.last}, now)
	if i >= 0 {
		l.cursors[i], l.haveCur[i] = ev.seq, true
	}
}

// message handles one text message (WebSocket) or frame's data (SSE): an
// event on the lean path, anything else through DecodeWire as the product
// clients dispatch it. It returns the frame's type when it was a control
// frame ("" otherwise) and the decoded frame.
func (l *leanClient) message(b []byte, now time.Time) (string, transports.WireEvent) {
	if l.adapter != nil {
		l.adapter.message(b, func(topic string, st stamp) { l.sub.Stamped(topic, st, now) }, l.sub.NoteReset)
		return "", transports.WireEvent{}
	}
	if ev, ok := leanDecode(b); ok {
		l.event(ev, now)
		return "", transports.WireEvent{}
	}
	we, err := transports.DecodeWire(b)
	switch {
	case err == nil:
		l.sub.Event(we, now)
		if i, _ := l.topic([]byte(we.Topic)); i >= 0 {
			l.cursors[i], l.haveCur[i] = we.Seq, true
		}
		return "", we
	case errors.Is(err, transports.ErrNotEvent):
		l.c.control(b)
		if we.Type == transports.TypeSubscribed {
			// The starting cursor of a topic that began live, unless an
			// event of it came first.
			if i := slices.Index(l.urlTopics, we.Topic); i >= 0 && !l.haveCur[i] && !l.single {
				l.cursors[i], l.haveCur[i] = we.Seq, true
			}
		}
		return we.Type, we
	}
	l.c.control(b) // not JSON: nothing of ours
	return "", we
}

// hello is the adapter's first WebSocket message (nil: none).
func (l *leanClient) hello() []byte {
	if l.adapter == nil {
		return nil
	}
	return l.adapter.hello()
}

// topic returns the URL topic named b (its index and string, without
// allocating) or, for any other topic, -1 and a new string.
func (l *leanClient) topic(b []byte) (int, string) {
	for i, t := range l.urlTopics {
		if string(b) == t {
			return i, t
		}
	}
	if l.single && !l.haveCur[0] {
		l.urlTopics[0] = string(b) // a single-topic stream's topic
		return 0, l.urlTopics[0]
	}
	return -1, string(b)
}

// resumeQuery is the WebSocket URL's query with the resume cursor of the
// URL's topics in last_event_id (as ws.Client's connectURL).
func (l *leanClient) resumeQuery() string {
	var id string
	if l.single {
		if l.haveCur[0] {
			id = strconv.FormatUint(l.cursors[0], 10)
		}
	} else {
		cur := transports.Cursors{}
		for i, t := range l.urlTopics {
			if l.haveCur[i] {
				cur[t] = l.cursors[i]
			}
		}
		if len(cur) > 0 {
			id = cur.Format("")
		}
	}
	if id == "" {
		return l.target.RawQuery
	}
	q := l.target.Query()
	q.Set("last_event_id", id)
	return q.Encode()
}

// requestLine is the request line of a GET for path and query.
func requestLine(path, query string) string {
	if path == "" {
		path = "/"
	}
	if query != "" {
		path += "?" + query
	}
	return "GET " + path + " HTTP/1.1\r\n"
}
