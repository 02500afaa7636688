// Package streamtest is the test harness both transports' tests share: a
// Recorder of what a Go client delivers, a client's Run in the background,
// a Silent server and a Mute listener for idle handling, a publish helper
// and one WaitFor with one timeout. It is for tests only.
package streamtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// Wait is the generous bound of every wait in the tests: they assert what
// happens, never how fast.
const Wait = 20 * time.Second

// Backoff is a quick reconnect schedule for clients under test.
var Backoff = transports.Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}

// WaitFor polls cond until it holds, failing the test if it does not
// within Wait.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Publish publishes an event on hub, failing the test on an error.
func Publish(t testing.TB, hub *transports.Hub, topic, kind, data string) *transports.Event {
	t.Helper()
	ev, err := hub.Publish(context.Background(), topic, kind, json.RawMessage(data))
	if err != nil {
		t.Fatalf("publish %s %s: %v", topic, kind, err)
	}
	return ev
}

// Contiguous checks that seqs are exactly from..to: nothing lost, nothing
// twice, in order.
func Contiguous(seqs []uint64, from, to uint64) error {
	if uint64(len(seqs)) != to-from+1 {
		return fmt.Errorf("got %d events %v, want %d..%d", len(seqs), seqs, from, to)
	}
	for i, s := range seqs {
		if s != from+uint64(i) {
			return fmt.Errorf("event %d has seq %d, want %d (gap or duplicate): %v", i, s, from+uint64(i), seqs)
		}
	}
	return nil
}
