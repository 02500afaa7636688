package ws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
)

// conn is one attached WebSocket connection. The handler goroutine (or,
// detached, a goroutine of the server's) runs the shared connection loop,
// transports.Serve, which is the connection's only writer of data frames
// (writer.go); read runs in a second goroutine and never writes to the
// socket itself: replies go through the subscriber's queue, in order with
// events.
type conn struct {
	s        *Server
	ws       *websocket.Conn
	cork     *corkConn // the hijacked socket under ws
	sub      *transports.Subscriber
	clientID string
	single   bool // a single-topic stream: ends with Item.End, takes only ping/pong

	seen atomic.Int64 // when the peer was last heard from (Server.now)

	limit *transports.CommandLimit // Config.CommandRate (inbound.go); the reader's own

	readDone chan struct{} // closed when read returns
	readErr  error         // why read returned; set before readDone closes
}

// run serves the attached connection until it ends.
func (c *conn) run() {
	c.readDone = make(chan struct{})
	c.cork.clock = c.s.guard.Watch(c.cork.cut)
	c.cork.lib = c.ws // writeBatchLib's path, on a connection that compresses
	defer c.cork.clock.Release()
	go c.read() // owner: run, which waits for readDone below
	transports.Serve(c.sub, c, transports.LoopConfig{
		Heartbeat:   c.s.cfg.Heartbeat,
		IdleTimeout: c.s.cfg.IdleTimeout,
		Heard:       c.heard,
		Gone:        c.readDone,
	})
	<-c.readDone
}

// heard is how long ago the peer was last heard from.
func (c *conn) heard() time.Duration { return time.Duration(c.s.now() - c.seen.Load()) }

func (c *conn) touch() { c.seen.Store(c.s.now()) }

// onPing and onPong are coder/websocket's control frame callbacks; they run
// on the reader goroutine.
func (c *conn) onPing(context.Context, []byte) bool {
	c.touch()
	return true
}

func (c *conn) onPong(context.Context, []byte) { c.touch() }

// read reads client frames until the connection fails or closes.
func (c *conn) read() {
	defer c.sub.Wake() // the loop looks at readDone when woken
	defer close(c.readDone)
	c.limit = transports.NewCommandLimit(c.s.cfg.CommandRate)
	for {
		// No context deadline: the writer closes the socket to stop us,
		// and a context with a Done channel would cost a timer per frame.
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			c.readErr = err
			return
		}
		c.touch()
		bp := c.s.bufs.Get().(*[]byte)
		b, err := readAll(r, (*bp)[:0])
		v := handleFrame
		if err == nil {
			v = c.admit(typ, b) // UTF-8 and the command rate (inbound.go)
		}
		if v == handleFrame && err == nil {
			if typ != websocket.MessageText {
				f := transports.NewErrorFrame(transports.CodeInvalidMessage, "binary frames are not accepted: send commands as JSON text frames")
				c.sub.Send(f.JSON())
			} else {
				c.handle(b)
			}
		}
		if cap(b) <= 64<<10 {
			*bp = b[:0]
			c.s.bufs.Put(bp)
		}
		if err != nil {
			c.readErr = err
			return
		}
		if v == stopReading {
			return // kicked: the loop closes with the reason
		}
	}
}

// readAll appends r to b.
func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// handle runs one client command. Replies are queued on the subscriber so
// that the writer sends them in order with events.
func (c *conn) handle(b []byte) {
	if chat.IsPong(b) {
		return // liveness was recorded when the frame arrived
	}
	cmd, ef := chat.ParseCommand(b)
	if ef != nil {
		c.sub.Send(ef.JSON())
		return
	}
	fail := func(code, msg string) {
		f := transports.NewErrorFrame(code, msg)
		f.ID = cmd.ID
		c.sub.Send(f.JSON())
	}
	if c.single && cmd.Type != chat.CmdPing && cmd.Type != chat.CmdPong {
		f := transports.NewErrorFrame(transports.CodeInvalidMessage, "a single-topic stream takes only ping and pong")
		f.Fields = map[string]string{"type": fmt.Sprintf("%q is not accepted on this stream", cmd.Type)}
		f.ID = cmd.ID
		c.sub.Send(f.JSON())
		return
	}
	switch cmd.Type {
	case chat.CmdSubscribe:
		if !transports.CanSubscribe(c.clientID, cmd.Topic) {
			fail(transports.CodeForbidden, fmt.Sprintf("%s is another client's personal topic", cmd.Topic))
			return
		}
		_, err := c.sub.Subscribe(cmd.Topic, transports.SubscribeOptions{After: cmd.LastSeq, Ack: true, ID: cmd.ID})
		switch {
		case err == nil:
		case errors.Is(err, transports.ErrAlreadySubscribed):
			fail(transports.CodeAlreadySubscribed, "already subscribed to "+cmd.Topic)
		case errors.Is(err, transports.ErrTooManyTopics):
			fail(transports.CodeTooManyTopics, "this connection follows as many topics as it may: unsubscribe from one first")
		case transports.ReasonOf(err) != nil:
			// The subscriber was closed meanwhile; the writer reports why.
		default:
			fail(transports.CodeInvalidMessage, err.Error())
		}
	case chat.CmdUnsubscribe:
		if err := c.sub.Unsubscribe(cmd.Topic); err != nil {
			fail(transports.CodeNotSubscribed, "not subscribed to "+cmd.Topic)
			return
		}
		c.sub.Send(transports.ControlFrame{Type: transports.TypeUnsubbed, Topic: cmd.Topic, ID: cmd.ID}.JSON())
	case chat.CmdBroadcast, chat.CmdPersonal, chat.CmdBroadcastExcept:
		e, n, ef := chat.Route(c.s.cfg.Hub, c.clientID, cmd)
		if ef != nil {
			c.sub.Send(ef.JSON())
			return
		}
		c.sub.Send(transports.ControlFrame{Type: transports.TypeAck, Topic: e.Topic, Seq: e.Seq, ID: cmd.ID, Size: n}.JSON())
	case chat.CmdPing:
		ts := cmd.TS
		if ts == 0 {
			ts = time.Now().UnixMicro()
		}
		c.sub.Send(transports.ControlFrame{Type: transports.TypePong, TS: ts, ID: cmd.ID}.JSON())
	case chat.CmdPong:
		// Liveness was recorded when the frame arrived.
	}
}
