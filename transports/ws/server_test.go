package ws_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/ws"
)

func TestConnectValidation(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	tests := []struct {
		name, query, field string
	}{
		{"bad client id", "client_id=al%20ice", "client_id"},
		{"client id twice", "client_id=a&client_id=b", "client_id"},
		{"bad topic", "topic=a/b", "topic"},
		{"empty topic", "topic=", "topic"},
		{"another client's topic", "client_id=alice&topic=client:bob", "topic"},
		{"bare cursor on a multi-topic stream", "client_id=alice&last_event_id=7", "last_event_id"},
		{"cursor of a topic not followed", "topic=news&last_event_id=other=3", "last_event_id"},
		{"cursor not a number", "topic=news&last_event_id=news=x", "last_event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := e.tryDial("/ws?"+tt.query, nil)
			if err == nil {
				c.CloseNow()
				t.Fatal("upgrade succeeded")
			}
			if resp == nil || resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("response %v, err %v; want 400", resp, err)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			body, _ := io.ReadAll(resp.Body)
			var f transports.ErrorFrame
			if err := json.Unmarshal(body, &f); err != nil {
				t.Fatalf("body is not JSON: %s", body)
			}
			if f.Type != "error" || f.Code != transports.CodeInvalidMessage || f.Fields[tt.field] == "" {
				t.Fatalf("body %s: want code invalid_message with field %s", body, tt.field)
			}
		})
	}
}

func TestCommandErrors(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	c := e.dial(t, "/ws?client_id=alice", nil)
	c.subscribed("client:alice", "broadcast")
	long := strings.Repeat("x", chat.MaxMessageLen+1)
	tests := []struct {
		name, send, code, field, id string
	}{
		{"not JSON", `{"type":`, transports.CodeInvalidJSON, "", ""},
		{"not an object", `["subscribe"]`, transports.CodeInvalidMessage, "", ""},
		{"no type", `{"topic":"news"}`, transports.CodeInvalidMessage, "type", ""},
		{"unknown type", `{"type":"shout","id":"u1"}`, transports.CodeInvalidMessage, "type", "u1"},
		{"type not a string", `{"type":7}`, transports.CodeInvalidMessage, "type", ""},
		{"subscribe without topic", `{"type":"subscribe","id":"s1"}`, transports.CodeInvalidMessage, "topic", "s1"},
		{"subscribe bad topic", `{"type":"subscribe","topic":"a b"}`, transports.CodeInvalidMessage, "topic", ""},
		{"subscribe bad last_seq", `{"type":"subscribe","topic":"news","last_seq":-1}`, transports.CodeInvalidMessage, "last_seq", ""},
		{"unsubscribe with last_seq", `{"type":"unsubscribe","topic":"news","last_seq":1}`, transports.CodeInvalidMessage, "last_seq", ""},
		{"broadcast without message", `{"type":"broadcast"}`, transports.CodeInvalidMessage, "message", ""},
		{"message too long", `{"type":"broadcast","message":"` + long + `"}`, transports.CodeInvalidMessage, "message", ""},
		{"personal without to", `{"type":"personal","message":"hi"}`, transports.CodeInvalidMessage, "to", ""},
		{"personal bad to", `{"type":"personal","to":"b b","message":"hi"}`, transports.CodeInvalidMessage, "to", ""},
		{"ping bad ts", `{"type":"ping","ts":"now"}`, transports.CodeInvalidMessage, "ts", ""},
		{"another client's topic", `{"type":"subscribe","topic":"client:bob","id":"f1"}`, transports.CodeForbidden, "", "f1"},
		{"unsubscribe not followed", `{"type":"unsubscribe","topic":"nothing","id":"n1"}`, transports.CodeNotSubscribed, "", "n1"},
		{"already subscribed", `{"type":"subscribe","topic":"broadcast","id":"a1"}`, transports.CodeAlreadySubscribed, "", "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(tt.send)
			f := c.next()
			if f.Type != transports.TypeError || f.Code != tt.code || f.ID != tt.id {
				t.Fatalf("got %s, want error %s id %q", f, tt.code, tt.id)
			}
			if tt.field != "" && f.Fields[tt.field] == "" {
				t.Fatalf("got %s, want a problem with field %s", f, tt.field)
			}
			if f.Message == "" {
				t.Fatalf("error without a message: %s", f)
			}
		})
	}
	c.t = t

	// A binary frame is refused the same way, and the connection stays.
	ctx := t.Context()
	if err := c.c.Write(ctx, websocket.MessageBinary, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	if f := c.next(); f.Type != transports.TypeError || f.Code != transports.CodeInvalidMessage {
		t.Fatalf("binary frame: got %s", f)
	}
	c.send(`{"type":"ping","ts":12345,"id":"p1"}`)
	if f := c.next(); f.Type != transports.TypePong || f.TS != 12345 || f.ID != "p1" {
		t.Fatalf("ping: got %s", f)
	}
}

func TestSendWithoutClientID(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	c := e.dial(t, "/ws?topic=news", nil)
	c.subscribed("news")
	c.send(`{"type":"broadcast","message":"hi","id":"b1"}`)
	if f := c.next(); f.Type != transports.TypeError || f.Code != transports.CodeForbidden || f.ID != "b1" {
		t.Fatalf("got %s, want forbidden", f)
	}
}

func TestSubscribeUnsubscribe(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	e.publish(t, "news", "headline", `{"n":1}`)
	e.publish(t, "news", "headline", `{"n":2}`)
	c := e.dial(t, "/ws", nil)

	c.send(`{"type":"subscribe","topic":"news","id":"s1"}`)
	if f := c.next(); f.Type != transports.TypeSubscribed || f.Topic != "news" || f.Seq != 2 || f.ID != "s1" {
		t.Fatalf("got %s, want subscribed news seq 2", f)
	}
	e.publish(t, "news", "headline", `{"n":3}`)
	if f := c.event(); f.Topic != "news" || f.Seq != 3 || f.Event != "headline" || string(f.Data) != `{"n":3}` {
		t.Fatalf("got %s", f)
	}

	c.send(`{"type":"unsubscribe","topic":"news","id":"u1"}`)
	if f := c.next(); f.Type != transports.TypeUnsubbed || f.Topic != "news" || f.ID != "u1" {
		t.Fatalf("got %s, want unsubscribed", f)
	}
	e.publish(t, "news", "headline", `{"n":4}`)
	// Resume after seq 1: the replay is 2..4, then live events.
	c.send(`{"type":"subscribe","topic":"news","last_seq":1}`)
	if f := c.next(); f.Type != transports.TypeSubscribed || f.Seq != 4 {
		t.Fatalf("got %s, want subscribed seq 4", f)
	}
	e.publish(t, "news", "headline", `{"n":5}`)
	for want := uint64(2); want <= 5; want++ {
		if f := c.event(); f.Seq != want {
			t.Fatalf("got %s, want seq %d", f, want)
		}
	}
}

func TestReadLimit(t *testing.T) {
	for _, tt := range []struct {
		name  string
		limit int64
		size  int
	}{
		{"default 32 KiB", 0, 32<<10 + 1},
		{"configured 1 KiB", 1 << 10, 1<<10 + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, ws.Config{ReadLimit: tt.limit}, transports.HubConfig{})
			c := e.dial(t, "/ws?client_id=alice", nil)
			c.subscribed("client:alice", "broadcast")
			// Just under the limit is fine (an error frame: not a command).
			c.send(`"` + strings.Repeat("x", tt.size-3) + `"`)
			if f := c.next(); f.Code != transports.CodeInvalidMessage {
				t.Fatalf("got %s", f)
			}
			c.send(`"` + strings.Repeat("x", tt.size-2) + `"`)
			c.wantClose(websocket.StatusMessageTooBig, "")
		})
	}
}

func TestOrigin(t *testing.T) {
	e := newEnv(t, ws.Config{OriginPatterns: []string{"allowed.example"}}, transports.HubConfig{})
	host := strings.TrimPrefix(e.url, "ws://")
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true}, // not a browser
		{"http://" + host, true},
		{"https://allowed.example", true},
		{"https://evil.example", false},
		{"http://127.0.0.1:1", false}, // same host name, other port
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			c, resp, err := e.tryDial("/ws?topic=news", &websocket.DialOptions{HTTPHeader: h})
			if tt.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				r := &raw{t: t, c: c}
				r.subscribed("news")
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("cross-origin upgrade accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("got %v %v, want 403", resp, err)
			}
		})
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Run("global", func(t *testing.T) {
		lim := transports.NewLimiter(2, 0)
		e := newEnv(t, ws.Config{Limiter: lim}, transports.HubConfig{})
		a := e.dial(t, "/ws?topic=a", nil)
		a.subscribed("a")
		b := e.dial(t, "/ws/tasks/none", nil) // an error stream holds no slot
		b.next()
		b.closed()
		e.dial(t, "/ws?topic=b", nil).subscribed("b")
		over := e.dial(t, "/ws?topic=c", nil)
		over.wantClose(websocket.StatusTryAgainLater, transports.ReasonTooManyConnections.Text)
		if n := lim.Open(); n != 2 {
			t.Fatalf("limiter holds %d, want 2", n)
		}
		a.c.Close(websocket.StatusNormalClosure, "")
		waitFor(t, "slot released", func() bool { return lim.Open() == 1 })
		e.dial(t, "/ws?topic=c", nil).subscribed("c")
	})
	t.Run("per IP", func(t *testing.T) {
		lim := transports.NewLimiter(0, 1)
		e := newEnv(t, ws.Config{Limiter: lim}, transports.HubConfig{})
		e.dial(t, "/ws?topic=a", nil).subscribed("a")
		e.dial(t, "/ws?topic=a", nil).wantClose(websocket.StatusTryAgainLater, transports.ReasonTooManyConnections.Text)
		// Another source address has its own budget.
		hc := ws.LocalAddrHTTPClient(net.ParseIP("127.0.0.2"))
		defer hc.CloseIdleConnections()
		e.dial(t, "/ws?topic=a", &websocket.DialOptions{HTTPClient: hc}).subscribed("a")
		if n := lim.Open(); n != 2 {
			t.Fatalf("limiter holds %d, want 2", n)
		}
	})
}
