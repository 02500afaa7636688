package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
	"unsafe"

	gosse "github.com/tmaxmax/go-sse"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/internal/client"
)

// Client read buffer: small to start (an idle client holds only this), grown
// by go-sse's parser up to maxEventSize for larger events.
const (
	readBufSize  = 1 << 10
	maxEventSize = 1 << 20
)

// ClientConfig configures a Client. URL is required.
type ClientConfig struct {
	// URL is the stream's URL, such as http://host/sse?client_id=alice or
	// http://host/sse/tasks/42. A last_event_id query parameter resumes the
	// first connection.
	URL string
	// Topics are added to URL as topic= query parameters.
	Topics []string
	// HTTPClient makes the requests; nil means a client on
	// http.DefaultTransport. Its Timeout must be zero (it would cut the
	// stream). To bind a local source address (the load generator spreads
	// clients over 127.0.0.x), give it a Transport whose DialContext uses a
	// net.Dialer with LocalAddr set. Connections are reused across
	// reconnects when a response ended cleanly. With thousands of clients
	// per process, a Transport with a small WriteBufferSize (the requests
	// are tiny; the default is 4 KiB) saves memory per connection.
	HTTPClient *http.Client
	// Backoff schedules reconnects. It is handed to go-sse's client
	// (Initial → InitialInterval, Max → MaxInterval, Multiplier, Jitter;
	// go-sse's jitter spreads a delay d over d·(1±Jitter)). As in a browser,
	// the server's retry: field replaces the initial delay: after a stream
	// that sent retry: N ends, the next attempt waits about N, and
	// attempts that keep failing grow from there by Multiplier up to Max.
	Backoff transports.Backoff
	// IdleTimeout drops the connection when nothing at all arrived on it
	// for that long — no event, no heartbeat comment, not even the
	// response headers — and reconnects after Backoff's delay with
	// Last-Event-ID, as after any other lost connection; the new stream
	// counts in Stats().Reconnects. Without it a dead server behind an open
	// TCP connection is noticed only by TCP keepalive, after minutes. Our
	// server sends a heartbeat every Config.Heartbeat (15s by default): keep
	// IdleTimeout a few heartbeats long. 0 means DefaultClientIdleTimeout
	// (45s); a negative value disables it. The watch costs one timer and
	// one context per request and no goroutine.
	IdleTimeout time.Duration
	// OnEvent receives every event frame, decoded. It is called on Run's
	// goroutine, in order; it must not block for long.
	OnEvent func(transports.WireEvent)
	// OnControl receives every other data frame (error frames such as
	// too_many_connections), raw. Called like OnEvent.
	OnControl func(raw []byte)
	// OnState is told about connection state changes, on Run's goroutine.
	OnState func(ClientState)
}

// ClientState is where a Client is in its connection cycle (the same
// states as the WebSocket client's).
type ClientState client.State

// Client states, reported through ClientConfig.OnState.
const (
	StateConnecting = ClientState(client.Connecting) // Run started; the first attempt is under way
	StateOpen       = ClientState(client.Open)       // a stream is open (its first frame arrived)
	StateWaiting    = ClientState(client.Waiting)    // the stream ended or an attempt failed; waiting to reconnect
	StateClosed     = ClientState(client.Closed)     // Run returned

	StateConnected    = StateOpen    // another name for StateOpen
	StateReconnecting = StateWaiting // another name for StateWaiting
)

func (s ClientState) String() string { return client.State(s).String() }

// ClientStats are a Client's counters.
type ClientStats struct {
	Connects   uint64 // streams opened
	Reconnects uint64 // streams opened after the first
	Resets     uint64 // reset events received (history was lost)
	Events     uint64 // event frames received
	Bytes      uint64 // response body bytes read, SSE framing included
	Pings      uint64 // heartbeats received (comment lines and ping frames)
	Refused    uint64 // stream responses that only carried a too_many_connections or unavailable error
}

// Client follows one SSE stream with go-sse's Client and Connection:
// go-sse parses the stream, honours retry:, resends Last-Event-ID on every
// reconnect and backs off between attempts; Client decodes events and
// counts. Stats is safe for concurrent use; Run must not be called
// concurrently with itself.
type Client struct {
	cfg ClientConfig

	// Owned by Run's goroutine (go-sse calls back on it).
	lastID   string // last id seen: the resume position
	fresh    bool   // a response was accepted and its first frame is due
	attempts int    // failed attempts since the last open stream (our own retries)

	n       client.Counters
	refused atomic.Uint64
}

// NewClient returns a Client for cfg; Run connects it.
func NewClient(cfg ClientConfig) *Client { return &Client{cfg: cfg} }

// Stats returns a snapshot of the counters.
func (c *Client) Stats() ClientStats {
	s := c.n.Snapshot()
	return ClientStats{
		Connects:   s.Connects,
		Reconnects: s.Reconnects,
		Resets:     s.Resets,
		Events:     s.Events,
		Bytes:      s.Bytes,
		Pings:      s.Pings,
		Refused:    c.refused.Load(),
	}
}

// StatusError is a response that is not a stream: a 4xx or 5xx with
// twinstream's JSON error body (Frame is zero when the body was not one).
type StatusError struct {
	StatusCode int
	Frame      transports.ErrorFrame
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("sse: server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Frame.Code != "" {
		msg += ": " + e.Frame.Error()
	}
	return msg
}

// Temporary reports whether trying again later may succeed (5xx, 408, 429).
func (e *StatusError) Temporary() bool { return client.TemporaryStatus(e.StatusCode) }

// errEnded marks a 204: the stream is over for good.
var errEnded = errors.New("sse: stream ended (204 No Content)")

// Run follows the stream until it ends for good or ctx is done. It
// reconnects, resuming with Last-Event-ID, whenever a response ends, the
// connection fails or the server stays silent for ClientConfig.IdleTimeout,
// and also after 5xx, 408 and 429 answers. It returns nil
// when the server answers 204 (a finished task stream), ctx.Err() when ctx
// is done, and a *StatusError for any other non-stream answer (400, 404...).
func (c *Client) Run(ctx context.Context) error {
	c.setState(StateConnecting)
	defer c.setState(StateClosed)
	u, err := url.Parse(c.cfg.URL)
	if err != nil {
		return fmt.Errorf("sse: bad URL: %w", err)
	}
	q := u.Query()
	for _, t := range c.cfg.Topics {
		q.Add("topic", t)
	}
	if id := q.Get("last_event_id"); id != "" && c.lastID == "" {
		c.lastID = id
	}
	gc := &gosse.Client{
		HTTPClient:        c.httpClient(),
		Backoff:           goSSEBackoff(c.cfg.Backoff),
		ResponseValidator: c.validate,
		OnRetry:           func(error, time.Duration) { c.setState(StateWaiting) },
	}
	buf := make([]byte, 0, readBufSize)
	for {
		// go-sse resends Last-Event-ID within one Connection; a new
		// Connection (after a 5xx) carries the position in the query, which
		// the header overrides once go-sse has one.
		if c.lastID != "" {
			q.Set("last_event_id", c.lastID)
		}
		u.RawQuery = q.Encode()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return fmt.Errorf("sse: %w", err)
		}
		conn := gc.NewConnection(req)
		conn.Buffer(buf, maxEventSize)
		conn.SubscribeMessages(c.handle)
		err = conn.Connect()
		var se *StatusError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errEnded):
			return nil
		case errors.As(err, &se) && se.Temporary():
			c.attempts++
			c.setState(StateWaiting)
			if err := client.Sleep(ctx, c.cfg.Backoff.Delay(c.attempts)); err != nil {
				return err
			}
		case errors.As(err, &se):
			return se
		default:
			return err
		}
	}
}

// validate is go-sse's ResponseValidator. Its errors end Connect.
func (c *Client) validate(res *http.Response) error {
	switch res.StatusCode {
	case http.StatusOK:
		if err := gosse.DefaultValidator(res); err != nil {
			return err
		}
		c.fresh = true
		return nil
	case http.StatusNoContent:
		return errEnded
	}
	se := &StatusError{StatusCode: res.StatusCode}
	if b, err := io.ReadAll(io.LimitReader(res.Body, 4<<10)); err == nil {
		_ = json.Unmarshal(b, &se.Frame)
	}
	return se
}

// handle receives every frame without an event: field (all of ours).
func (c *Client) handle(ev gosse.Event) {
	c.lastID = ev.LastEventID
	if c.fresh {
		// The first frame tells an open stream (retry:, id:) from a refusal
		// (an error frame, then the end of the response).
		c.fresh = false
		if refusal(ev.Data) {
			c.refused.Add(1)
		} else {
			c.attempts = 0
			c.n.Opened()
			c.setState(StateOpen)
		}
	}
	if ev.Data == "" {
		return // a frame with only retry: or id: (go-sse still dispatches it)
	}
	// The view is read-only and DecodeWire copies what it keeps.
	we, err := transports.DecodeWire(unsafe.Slice(unsafe.StringData(ev.Data), len(ev.Data)))
	if err == nil {
		c.n.Event(we.Event == transports.KindReset)
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(we)
		}
		return
	}
	if we.Type == transports.TypePing {
		c.n.Pinged(1)
	}
	if c.cfg.OnControl != nil {
		c.cfg.OnControl([]byte(ev.Data))
	}
}

// refusal reports whether a first frame's data is an error frame saying the
// server cannot take the stream now.
func refusal(data string) bool {
	if data == "" {
		return false
	}
	var f transports.ErrorFrame
	if json.Unmarshal([]byte(data), &f) != nil || f.Type != transports.TypeError {
		return false
	}
	return f.Code == transports.CodeTooManyConnections || f.Code == transports.CodeUnavailable
}

// idleTimeout is IdleTimeout with its default; 0 means none.
func (c *Client) idleTimeout() time.Duration {
	return client.IdleTimeout(c.cfg.IdleTimeout, DefaultClientIdleTimeout)
}

func (c *Client) setState(s ClientState) {
	if c.cfg.OnState != nil {
		c.cfg.OnState(s)
	}
}

// goSSEBackoff maps our schedule, with its defaults, onto go-sse's.
func goSSEBackoff(b transports.Backoff) gosse.Backoff {
	d := client.Backoff(b).WithDefaults()
	out := gosse.Backoff{
		InitialInterval: d.Initial,
		MaxInterval:     d.Max,
		Multiplier:      d.Multiplier,
		Jitter:          d.Jitter,
	}
	switch {
	case out.Jitter == 0:
		// None. go-sse documents -1 as "none", but its defaults replace
		// any value outside (0, 1) with 0.5; a tiny jitter is none in effect.
		out.Jitter = 1e-9
	case out.Jitter >= 1:
		out.Jitter = 0.99 // go-sse requires < 1
	}
	return out
}
