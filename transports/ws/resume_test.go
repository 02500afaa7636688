package ws_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/coder/websocket"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/ws"
)

func TestResumeMidStream(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	c := e.dial(t, "/ws?client_id=alice&topic=news", nil)
	c.subscribed("client:alice", "broadcast", "news")
	cursors := transports.Cursors{}
	for i := 1; i <= 5; i++ {
		e.publish(t, "news", "tick", fmt.Sprintf(`{"i":%d}`, i))
	}
	e.publish(t, "broadcast", "tick", `{}`)
	for range 6 {
		f := c.event()
		cursors[f.Topic] = f.Seq
	}
	c.c.CloseNow() // the client drops; publishing goes on
	for i := 6; i <= 10; i++ {
		e.publish(t, "news", "tick", fmt.Sprintf(`{"i":%d}`, i))
	}
	e.publish(t, "client:alice", "tick", `{}`)

	waitFor(t, "alice offline", func() bool { return e.hub.Online("alice") == 0 })

	c = e.dial(t, "/ws?client_id=alice&topic=news&last_event_id="+cursors.Format(""), nil)
	// Replays come first: broadcast 3 (alice's leave), 4 (her join), news
	// 6..10; then client:alice, which had no cursor, starts live; then
	// news 11. Every topic continues exactly after its cursor.
	var got []string
	for cursors["news"] < 11 {
		f := c.next()
		switch f.Type {
		case transports.TypeSubscribed:
			got = append(got, "subscribed:"+f.Topic)
			e.publish(t, "news", "tick", `{"i":11}`) // attached: this one is live
			continue
		case transports.TypeEvent:
		default:
			t.Fatalf("got %s", f)
		}
		if f.Seq != cursors[f.Topic]+1 {
			t.Fatalf("got %s after seq %d: a gap or a duplicate", f, cursors[f.Topic])
		}
		cursors[f.Topic] = f.Seq
		got = append(got, fmt.Sprintf("%s:%d:%s", f.Topic, f.Seq, f.Event))
	}
	want := "[broadcast:3:leave broadcast:4:join news:6:tick news:7:tick news:8:tick news:9:tick news:10:tick subscribed:client:alice news:11:tick]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got  %v\nwant %s", got, want)
	}
}

func TestResumeCursorTooOld(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{History: 5})
	for i := 1; i <= 20; i++ {
		e.publish(t, "news", "tick", fmt.Sprintf(`{"i":%d}`, i))
	}
	for _, tt := range []struct {
		name, cursor string
		reason       string
		resetSeq     uint64
		first        uint64
	}{
		{"older than history", "2", transports.ResetHistoryExpired, 15, 16},
		// The reset's seq is the client's new cursor and nothing lower
		// follows it: 15, then the retained 16..20 (issue 10: it was 20,
		// then 16..20 went backwards).
		{"ahead of the topic", "99", transports.ResetCursorAhead, 15, 16},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.dial(t, "/ws?topic=news&last_event_id="+tt.cursor, nil)
			f := c.event()
			var rd transports.ResetData
			if f.Event != transports.KindReset || f.Seq != tt.resetSeq || json.Unmarshal(f.Data, &rd) != nil || rd.Reason != tt.reason {
				t.Fatalf("got %s, want a %s reset with seq %d", f, tt.reason, tt.resetSeq)
			}
			for want := tt.first; want <= 20; want++ {
				if f := c.event(); f.Seq != want {
					t.Fatalf("got %s, want seq %d", f, want)
				}
			}
		})
	}
	t.Run("subscribe with last_seq", func(t *testing.T) {
		c := e.dial(t, "/ws", nil)
		c.send(`{"type":"subscribe","topic":"news","last_seq":1}`)
		if f := c.next(); f.Type != transports.TypeSubscribed || f.Seq != 20 {
			t.Fatalf("got %s", f)
		}
		if f := c.event(); f.Event != transports.KindReset || f.Seq != 15 {
			t.Fatalf("got %s, want a reset", f)
		}
		if f := c.event(); f.Seq != 16 {
			t.Fatalf("got %s, want seq 16", f)
		}
	})
}

func TestDropAllCloses1012(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	c := e.dial(t, "/ws?topic=news", nil)
	c.subscribed("news")
	waitFor(t, "attached", func() bool { return e.hub.Stats().Connections[ws.Transport] == 1 })
	if n := e.hub.DropAll("sse"); n != 0 {
		t.Fatalf("dropped %d ws connections for transport sse", n)
	}
	if n := e.hub.DropAll(ws.Transport); n != 1 {
		t.Fatalf("DropAll = %d", n)
	}
	c.wantClose(websocket.StatusServiceRestart, transports.ReasonDropped.Text)
}
