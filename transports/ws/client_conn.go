package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/internal/client"
)

// session runs one connection: dial, re-subscribe, read until it ends.
// heard reports whether anything arrived (which resets the backoff).
func (c *Client) session(ctx context.Context) (heard bool, err error) {
	opts := &websocket.DialOptions{HTTPClient: c.cfg.HTTPClient, CompressionMode: c.cfg.Compression}
	idle := c.idleTimeout()
	var watch *client.Watchdog
	dctx, dialDone := ctx, context.CancelFunc(func() {})
	if idle > 0 {
		// Protocol pings are answered inside coder/websocket's reader and
		// never surface from conn.Reader: they count through this hook.
		watch = client.NewWatchdog()
		opts.OnPingReceived = func(context.Context, []byte) bool {
			watch.Note()
			return true
		}
		dctx, dialDone = context.WithTimeout(ctx, idle) // bounds the handshake only
	}
	conn, resp, err := websocket.Dial(dctx, c.connectURL(), opts)
	dialDone()
	if err != nil {
		if resp != nil && refused(resp.StatusCode) {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(io.LimitReader(resp.Body, 512))
			}
			return false, &HandshakeError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(body))}
		}
		return false, err
	}
	conn.SetReadLimit(maxClientMessage)
	c.n.Opened()

	// Cancelling ctx closes the connection politely; reads then fail. One
	// AfterFunc per connection instead of a context (and its timer) per read.
	// Its goroutine, started only if ctx ends during the session, is owned
	// by this session: the deferred func below stops it or waits for it.
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(closed)
		_ = conn.Close(websocket.StatusNormalClosure, "client leaving")
	})
	defer func() {
		if !stop() {
			<-closed
		}
		c.mu.Lock()
		if c.conn == conn {
			c.conn = nil
		}
		c.mu.Unlock()
		_ = conn.CloseNow()
	}()
	if watch != nil {
		// A silent server: close without a handshake (it would not answer
		// one); the read below then fails and Run reconnects.
		watch.Start(idle, func() { _ = conn.CloseNow() })
		defer func() {
			if watch.Stop() && err != nil {
				err = fmt.Errorf("ws: %w (%v): %w", client.ErrIdle, idle, err)
			}
		}()
	}

	// Publish the connection and take the topics to re-subscribe in one
	// step: a concurrent Send(subscribe) either lands in this list or
	// writes on this connection itself.
	c.mu.Lock()
	c.conn = conn
	var subs []chat.Command
	for _, t := range c.explicit {
		cmd := chat.Command{Type: chat.CmdSubscribe, Topic: t}
		if seq, ok := c.cursors[t]; ok {
			cmd.LastSeq = &seq
		}
		subs = append(subs, cmd)
	}
	c.mu.Unlock()
	c.setState(StateOpen)
	for _, cmd := range subs {
		b, _ := json.Marshal(cmd)
		if err := c.write(conn, b); err != nil {
			return false, err
		}
	}

	for {
		typ, r, err := conn.Reader(context.Background())
		if err != nil {
			return heard, err
		}
		if watch != nil {
			watch.Note() // a frame header arrived: a large frame may take a while
		}
		c.buf, err = readAll(r, c.buf[:0])
		if err != nil {
			return heard, err
		}
		if watch != nil {
			watch.Note()
		}
		heard = true
		c.n.Received(len(c.buf))
		if typ == websocket.MessageText {
			if err := c.dispatch(conn, c.buf); err != nil {
				return heard, err
			}
		}
		if cap(c.buf) > 64<<10 {
			c.buf = nil // keep idle clients small after a large frame
		}
	}
}

// refused reports whether a handshake status means "do not retry": a 4xx
// that is not client.TemporaryStatus (every other failed handshake is
// retried).
func refused(status int) bool {
	return status >= 400 && status < 500 && !client.TemporaryStatus(status)
}

// dispatch handles one text frame.
func (c *Client) dispatch(conn *websocket.Conn, b []byte) error {
	w, err := transports.DecodeWire(b)
	if err != nil && !errors.Is(err, transports.ErrNotEvent) {
		c.control(b)
		return nil
	}
	switch w.Type {
	case transports.TypeEvent:
		c.n.Event(w.Event == transports.KindReset)
		c.mu.Lock()
		c.cursors[w.Topic] = w.Seq
		if c.single && c.stream == "" && !slices.Contains(c.explicit, w.Topic) {
			c.stream = w.Topic
		}
		c.mu.Unlock()
		if c.cfg.OnEvent != nil {
			c.cfg.OnEvent(w)
		}
		return nil
	case transports.TypePing:
		c.n.Pinged(1)
		c.control(b)
		return c.write(conn, transports.ControlFrame{Type: transports.TypePong, TS: w.TS}.JSON())
	case transports.TypeSubscribed:
		// The starting cursor of a topic that began live; an event seen
		// already is more recent.
		c.mu.Lock()
		if _, ok := c.cursors[w.Topic]; !ok && w.Topic != "" {
			c.cursors[w.Topic] = w.Seq
		}
		c.mu.Unlock()
	}
	c.control(b)
	return nil
}

func (c *Client) control(b []byte) {
	if c.cfg.OnControl != nil {
		c.cfg.OnControl(slices.Clone(b))
	}
}

func (c *Client) write(conn *websocket.Conn, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWriteTimeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, b)
}

// connectURL is the URL with the current resume cursor of the URL's own
// topics in last_event_id (topics followed by subscribe commands resume
// with last_seq instead).
func (c *Client) connectURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var id string
	if c.single {
		if seq, ok := c.cursors[c.stream]; ok && c.stream != "" {
			id = strconv.FormatUint(seq, 10)
		}
	} else {
		cur := transports.Cursors{}
		for _, t := range c.urlTopic {
			if seq, ok := c.cursors[t]; ok {
				cur[t] = seq
			}
		}
		if len(cur) > 0 {
			id = cur.Format("")
		}
	}
	if id == "" {
		return c.base.String()
	}
	q := make(url.Values, len(c.query)+1)
	for k, v := range c.query {
		q[k] = v
	}
	q.Set("last_event_id", id)
	u := *c.base
	u.RawQuery = q.Encode()
	return u.String()
}
