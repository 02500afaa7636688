package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/internal/client"
)

// ClientState is where a Client is in its connection cycle.
type ClientState client.State

// Client states, reported through ClientConfig.OnState.
const (
	StateConnecting = ClientState(client.Connecting) // dialing
	StateOpen       = ClientState(client.Open)       // connected and receiving
	StateWaiting    = ClientState(client.Waiting)    // backing off before the next attempt
	StateClosed     = ClientState(client.Closed)     // Run returned

	StateConnected    = StateOpen    // another name for StateOpen (as in package sse)
	StateReconnecting = StateWaiting // another name for StateWaiting (as in package sse)
)

func (s ClientState) String() string { return client.State(s).String() }

// ClientConfig configures a Client. Only URL is required.
type ClientConfig struct {
	// URL of the stream: ws://host/ws?client_id=alice&topic=news for a
	// multi-topic connection, or ws://host/ws/tasks/ID for a single-topic
	// stream (http:// and https:// work too). A last_event_id parameter, if
	// given, is the first connect's cursor.
	URL string
	// Topics are subscribed with subscribe commands after every connect;
	// after a reconnect each is resumed with last_seq.
	Topics []string
	// HTTPClient performs the handshake; nil means http.DefaultClient. To
	// bind a local source address (say 127.0.0.2, to spread many clients
	// over source addresses), use LocalAddrHTTPClient and share the result
	// between the clients of one address.
	HTTPClient *http.Client
	// Backoff is the reconnect schedule (exponential with jitter); the zero
	// value uses transports.Backoff's defaults.
	Backoff transports.Backoff
	// IdleTimeout drops the connection when nothing at all arrived on it
	// for that long — no event, no control frame, not even a heartbeat
	// (protocol or app-level ping) — and reconnects after Backoff's delay,
	// resuming as after any other drop; the new connection counts in
	// Stats().Reconnects. It also bounds the opening handshake. Without it a
	// dead server behind an open TCP connection is noticed only by TCP
	// keepalive, after minutes. Our server sends heartbeats every
	// Config.Heartbeat (15s by default): keep IdleTimeout a few heartbeats
	// long. 0 means DefaultClientIdleTimeout (45s); a negative value
	// disables it. The watch costs a timer per connection (and one per
	// handshake) and no goroutine.
	IdleTimeout time.Duration
	// OnEvent receives every event in arrival order, including reset and
	// snapshot events, and duplicates or out-of-order events should the
	// server send any: the client filters nothing. It runs on Run's
	// goroutine; keep it short.
	OnEvent func(transports.WireEvent)
	// OnControl receives every other frame (acks, errors, subscribed,
	// pings, ...) as a copy the callee may keep. It runs on Run's goroutine.
	OnControl func(raw []byte)
	// OnState reports state changes. It runs on Run's goroutine.
	OnState func(ClientState)
	// Compression is the permessage-deflate mode the client asks for
	// (coder/websocket's modes; the default asks for none). The read
	// limit applies to a message's decompressed size.
	Compression websocket.CompressionMode
}

// ClientStats are a Client's counters since it was created.
type ClientStats struct {
	Connects   uint64 // successful handshakes
	Reconnects uint64 // successful handshakes after the first
	Resets     uint64 // reset events received
	Events     uint64 // events received (resets and snapshots included)
	Bytes      uint64 // payload bytes of all frames received
	Pings      uint64 // app-level pings received (each answered with a pong)
}

// ErrNotConnected is returned by Send while the client has no connection.
var ErrNotConnected = errors.New("ws: client not connected")

// HandshakeError is Run's error when the server refused the upgrade with an
// HTTP status that retrying would not change (400, 403, 404, ...).
type HandshakeError struct {
	StatusCode int
	Body       string // the start of the response body (a JSON error frame from our server)
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("ws: handshake refused: %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// maxClientMessage is the client's read limit: events may be larger than
// the server's 32 KiB command limit.
const maxClientMessage = 16 << 20

// Client is a WebSocket stream client that reconnects with backoff and
// jitter and resumes where it left off: single-topic streams with
// last_event_id=<seq>, multi-topic connections with last_event_id in the
// topic=seq form for the URL's topics (client:<id>, broadcast, topic=...),
// and subscribe commands with last_seq for Topics. Its memory is a few
// hundred bytes plus the connection; one goroutine (Run's) per client.
//
// Run must be called once at a time; Send and Stats are safe for concurrent
// use.
type Client struct {
	cfg      ClientConfig
	base     *url.URL
	query    url.Values
	urlErr   error
	single   bool     // the URL names no topic: a single-topic stream such as /ws/tasks/ID
	urlTopic []string // topics the URL itself follows (client:<id>, broadcast, topic=...)

	running atomic.Bool
	buf     []byte // read buffer, Run's goroutine only

	mu       sync.Mutex
	conn     *websocket.Conn
	cursors  transports.Cursors
	explicit []string // topics followed through subscribe commands
	stream   string   // single: the stream's topic, learned from its events

	n client.Counters
}

// NewClient builds a client; nothing happens until Run.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{cfg: cfg, cursors: transports.Cursors{}}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		c.urlErr = fmt.Errorf("ws: client URL: %w", err)
		return c
	}
	c.base, c.query = u, u.Query()
	if id := c.query.Get("client_id"); id != "" {
		c.urlTopic = append(c.urlTopic, transports.ClientTopic(id), transports.TopicBroadcast)
	}
	for _, t := range c.query["topic"] {
		if !slices.Contains(c.urlTopic, t) {
			c.urlTopic = append(c.urlTopic, t)
		}
	}
	c.single = len(c.urlTopic) == 0
	if v := c.query.Get("last_event_id"); v != "" && !c.single {
		if cur, err := transports.ParseCursors(v, ""); err == nil {
			for t, s := range cur {
				c.cursors[t] = s
			}
		}
	}
	for _, t := range cfg.Topics {
		if !slices.Contains(c.urlTopic, t) && !slices.Contains(c.explicit, t) {
			c.explicit = append(c.explicit, t)
		}
	}
	return c
}

// Run connects and receives until ctx ends (it returns ctx.Err()), the
// stream completes (close 1000: it returns nil), or the server says not to
// come back (close 1008, 1009, 4004, 4400, or a refused handshake: it
// returns the error; websocket.CloseStatus reads the code). Every other end
// — 1001 shutdown, 1012 drop, 1013 too many connections, 4000, 4008, network
// errors, a server silent for ClientConfig.IdleTimeout — is followed by a
// reconnect after ClientConfig.Backoff's delay,
// resuming from the last seq received on each topic. The backoff restarts
// after a connection that received anything.
func (c *Client) Run(ctx context.Context) error {
	if c.urlErr != nil {
		return c.urlErr
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("ws: Client.Run is already running")
	}
	defer c.running.Store(false)
	defer c.setState(StateClosed)
	attempt := 0
	for {
		c.setState(StateConnecting)
		heard, err := c.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if stop, ferr := final(err); stop {
			return ferr
		}
		if heard {
			attempt = 0
		}
		attempt++
		c.setState(StateWaiting)
		if err := client.Sleep(ctx, c.cfg.Backoff.Delay(attempt)); err != nil {
			return err
		}
	}
}

// final reports whether err ends Run, and with what.
func final(err error) (bool, error) {
	var he *HandshakeError
	if errors.As(err, &he) {
		return true, err
	}
	switch code := websocket.CloseStatus(err); {
	case code == websocket.StatusNormalClosure:
		return true, nil
	case code != -1 && !retryable(code):
		return true, fmt.Errorf("ws: server closed the stream: %w", err)
	}
	return false, nil
}

// retryable reports whether a close code invites a reconnect: every code
// of transports.CloseReasons with Retry, and codes the table does not know
// (1011 internal errors are transient); not 1008 policy violation.
func retryable(code websocket.StatusCode) bool {
	if code == websocket.StatusPolicyViolation {
		return false
	}
	for _, r := range transports.CloseReasons {
		if r.WSStatus == int(code) {
			return r.Retry
		}
	}
	return true
}

// Send writes a command on the current connection. A subscribe or
// unsubscribe is also remembered, even when the write fails: after every
// reconnect the client follows the topics it subscribed, resuming each with
// last_seq. Send returns ErrNotConnected while there is no connection. If
// ctx ends during the write, coder/websocket closes the connection (Run then
// reconnects).
func (c *Client) Send(ctx context.Context, cmd chat.Command) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	c.mu.Lock()
	switch cmd.Type {
	case chat.CmdSubscribe:
		if !slices.Contains(c.urlTopic, cmd.Topic) && !slices.Contains(c.explicit, cmd.Topic) {
			c.explicit = append(c.explicit, cmd.Topic)
		}
	case chat.CmdUnsubscribe:
		if i := slices.Index(c.explicit, cmd.Topic); i >= 0 {
			c.explicit = slices.Delete(c.explicit, i, i+1)
		}
	}
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return ErrNotConnected
	}
	return conn.Write(ctx, websocket.MessageText, b)
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats { return ClientStats(c.n.Snapshot()) }

// Cursors returns a copy of the client's resume position: the seq of the
// last event received on each topic (or the starting seq a subscribed frame
// announced).
func (c *Client) Cursors() transports.Cursors {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(transports.Cursors, len(c.cursors))
	for t, s := range c.cursors {
		out[t] = s
	}
	return out
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
