package transports_test

import (
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestJanitorForgetsIdleTopics(t *testing.T) {
	h := transports.NewHubSweeping(transports.HubConfig{TopicTTL: 20 * time.Millisecond}, 5*time.Millisecond)
	defer h.Close()
	if h.JanitorArmed() {
		t.Fatal("janitor armed without topics")
	}
	publish(t, h, "idle", "k", `{}`)
	if !h.JanitorArmed() {
		t.Fatal("janitor not armed by the first topic")
	}
	s := newSub(t, h, "")
	if _, err := s.Subscribe("followed", transports.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the idle topic to be forgotten", func() bool { return h.Stats().Topics == 1 })
	if h.Latest("idle") != nil || h.Latest("followed") != nil {
		t.Fatal("wrong topic forgotten")
	}
	if !h.JanitorArmed() {
		t.Fatal("janitor disarmed while a topic remains")
	}
	if err := s.Unsubscribe("followed"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the janitor to disarm", func() bool { return h.Stats().Topics == 0 && !h.JanitorArmed() })
	if e := publish(t, h, "idle", "k", `{}`); e.Seq != 1 {
		t.Fatalf("a forgotten topic starts again from seq 1, got %d", e.Seq)
	}
	if !h.JanitorArmed() {
		t.Fatal("janitor not re-armed by a new topic")
	}
	h.Close()
	if h.JanitorArmed() {
		t.Fatal("janitor armed after Close")
	}
}

// A topic published to without subscribers is not idle: a long task keeps
// its seq.
func TestJanitorKeepsTopicsBeingPublished(t *testing.T) {
	h := transports.NewHubSweeping(transports.HubConfig{TopicTTL: 250 * time.Millisecond}, 5*time.Millisecond)
	defer h.Close()
	var last uint64
	for end := time.Now().Add(600 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		last = publish(t, h, "busy", "k", `{}`).Seq
	}
	if e := publish(t, h, "busy", "k", `{}`); e.Seq != last+1 {
		t.Fatalf("seq %d after %d: the topic was forgotten while published to", e.Seq, last)
	}
}
