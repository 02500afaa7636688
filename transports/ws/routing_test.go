package ws_test

import (
	"encoding/json"
	"testing"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/chat"
	"github.com/twinstream/twinstream/transports/ws"
)

// chatMessage decodes a message event.
func chatMessage(t *testing.T, f frame) chat.Message {
	t.Helper()
	var m chat.Message
	if f.Type != transports.TypeEvent || f.Event != chat.KindMessage || json.Unmarshal(f.Data, &m) != nil {
		t.Fatalf("got %s, want a message event", f)
	}
	return m
}

func presence(t *testing.T, f frame, kind, id string) {
	t.Helper()
	var d struct {
		ClientID string `json:"client_id"`
	}
	if f.Type != transports.TypeEvent || f.Topic != transports.TopicBroadcast || f.Event != kind || json.Unmarshal(f.Data, &d) != nil || d.ClientID != id {
		t.Fatalf("got %s, want %s of %s", f, kind, id)
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t, ws.Config{}, transports.HubConfig{})
	connect := func(id string) *raw {
		c := e.dial(t, "/ws?client_id="+id, nil)
		c.subscribed("client:"+id, "broadcast")
		return c
	}
	alice := connect("alice")
	bob := connect("bob")
	presence(t, alice.event(), chat.KindJoin, "bob")
	bob2 := connect("bob") // a second connection of bob: no join
	carol := connect("carol")
	for _, c := range []*raw{alice, bob, bob2} {
		presence(t, c.event(), chat.KindJoin, "carol")
	}

	t.Run("broadcast", func(t *testing.T) {
		alice.send(`{"type":"broadcast","message":"hi all","id":"m1"}`)
		for _, c := range []*raw{bob, bob2, carol} {
			if m := chatMessage(t, c.event()); m.From != "alice" || m.Message != "hi all" {
				t.Fatalf("got %+v", m)
			}
		}
		// The sender receives its own broadcast, then the ack.
		ev := alice.event()
		chatMessage(t, ev)
		ack := alice.next()
		if ack.Type != transports.TypeAck || ack.ID != "m1" || ack.Topic != "broadcast" || ack.Seq != ev.Seq || ack.Size != 4 {
			t.Fatalf("got %s, want an ack for seq %d to 4 connections", ack, ev.Seq)
		}
	})
	t.Run("broadcast_except", func(t *testing.T) {
		alice.send(`{"type":"broadcast_except","message":"not you","id":"m2"}`)
		for _, c := range []*raw{bob, bob2, carol} {
			if m := chatMessage(t, c.event()); m.Message != "not you" {
				t.Fatalf("got %+v", m)
			}
		}
		if ack := alice.next(); ack.Type != transports.TypeAck || ack.ID != "m2" || ack.Size != 3 {
			t.Fatalf("got %s, want the ack and no message", ack)
		}
	})
	t.Run("personal", func(t *testing.T) {
		alice.send(`{"type":"personal","to":"bob","message":"psst","id":"m3"}`)
		for _, c := range []*raw{bob, bob2} {
			f := c.event()
			if m := chatMessage(t, f); f.Topic != "client:bob" || m.Message != "psst" || m.From != "alice" {
				t.Fatalf("got %s", f)
			}
		}
		if ack := alice.next(); ack.Type != transports.TypeAck || ack.Topic != "client:bob" || ack.Size != 2 {
			t.Fatalf("got %s", ack)
		}
		// carol got nothing: her next frame is the next broadcast.
		bob.send(`{"type":"broadcast","message":"marker"}`)
		if m := chatMessage(t, carol.event()); m.Message != "marker" {
			t.Fatalf("carol got %+v before the marker", m)
		}
		for _, c := range []*raw{alice, bob2} {
			chatMessage(t, c.event())
		}
		chatMessage(t, bob.event())
		bob.next() // ack
	})
	t.Run("leave", func(t *testing.T) {
		carol.c.Close(1000, "")
		for _, c := range []*raw{alice, bob, bob2} {
			presence(t, c.event(), chat.KindLeave, "carol")
		}
		bob2.c.Close(1000, "") // bob is still online: no leave
		bob.c.Close(1000, "")
		presence(t, alice.event(), chat.KindLeave, "bob")
	})
}
