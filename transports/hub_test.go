package transports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/twinstream/twinstream/transports"
	"github.com/twinstream/twinstream/transports/taskstream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func publish(t *testing.T, h *transports.Hub, topic, kind string, data string) *transports.Event {
	t.Helper()
	e, err := h.Publish(context.Background(), topic, kind, json.RawMessage(data))
	if err != nil {
		t.Fatalf("publish %s/%s: %v", topic, kind, err)
	}
	return e
}

func newSub(t *testing.T, h *transports.Hub, clientID string) *transports.Subscriber {
	t.Helper()
	s, err := h.NewSubscriber(transports.SubscriberOptions{Transport: "test", ClientID: clientID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(nil) })
	return s
}

// drainEvents returns the queued items as "kind:seq" strings (control frames as "ctl:<type>").
func drainEvents(s *transports.Subscriber) []string {
	var out []string
	for _, it := range s.Drain(nil) {
		switch {
		case it.Event != nil:
			v := fmt.Sprintf("%s:%d", it.Event.Kind, it.Event.Seq)
			if it.End {
				v += "!"
			}
			out = append(out, v)
		default:
			var f struct{ Type string }
			_ = json.Unmarshal(it.Control, &f)
			out = append(out, "ctl:"+f.Type)
		}
	}
	return out
}

func eq(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func u(n uint64) *uint64 { return &n }

func TestPublishSeqAndWire(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	for i := 1; i <= 3; i++ {
		e := publish(t, h, "news", "tick", `{"n":1}`)
		if e.Seq != uint64(i) {
			t.Fatalf("seq = %d, want %d", e.Seq, i)
		}
	}
	e := publish(t, h, "other", "tick", ``)
	if e.Seq != 1 {
		t.Fatalf("seqs are per topic: got %d", e.Seq)
	}
	var w transports.WireEvent
	if err := json.Unmarshal(e.JSON(), &w); err != nil {
		t.Fatalf("wire form is not JSON: %v: %s", err, e.JSON())
	}
	if w.Type != "event" || w.Topic != "other" || w.Seq != 1 || w.Event != "tick" || string(w.Data) != "{}" || w.TS != e.Time.UnixMicro() {
		t.Fatalf("wire = %+v", w)
	}
}

func TestPublishCompactsLineBreaks(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	e := publish(t, h, "t", "k", "{\r\n  \"a\": \"x\\ny\"\n}")
	if want := `{"a":"x\ny"}`; string(e.Data) != want {
		t.Fatalf("data = %q, want %q", e.Data, want)
	}
	if bytes.ContainsAny(e.JSON(), "\r\n") {
		t.Fatalf("wire form has a raw line break: %q", e.JSON())
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	cases := []struct{ topic, kind, data string }{
		{"", "k", `{}`},
		{"bad topic", "k", `{}`},
		{"t", "", `{}`},
		{"t", "k\"", `{}`},
		{"t", "k", `[1]`},
		{"t", "k", `{`},
		{"t", "k", `"s"`},
	}
	for _, c := range cases {
		if _, err := h.Publish(context.Background(), c.topic, c.kind, json.RawMessage(c.data)); err == nil {
			t.Errorf("Publish(%q,%q,%q) succeeded", c.topic, c.kind, c.data)
		}
	}
}

func TestResume(t *testing.T) {
	tests := []struct {
		name     string
		history  int
		publish  int
		after    *uint64
		snapshot bool
		want     []string
	}{
		{"live only", 10, 3, nil, false, nil},
		{"from start", 10, 3, u(0), false, []string{"e:1", "e:2", "e:3"}},
		{"mid", 10, 5, u(3), false, []string{"e:4", "e:5"}},
		{"at head", 10, 5, u(5), false, nil},
		{"expired", 3, 6, u(1), false, []string{"reset:3", "e:4", "e:5", "e:6"}},
		{"expired snapshot", 3, 6, u(1), true, []string{"reset:3", "snapshot:6"}},
		{"just inside", 3, 6, u(3), false, []string{"e:4", "e:5", "e:6"}},
		// A reset's seq is the new cursor; nothing lower follows it.
		{"ahead", 10, 2, u(9), false, []string{"reset:0", "e:1", "e:2"}},
		{"no history", -1, 4, u(1), false, []string{"reset:4"}},
		{"snapshot fresh", 10, 4, nil, true, []string{"snapshot:4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := transports.NewHub(transports.HubConfig{History: tc.history})
			for range tc.publish {
				publish(t, h, "t", "e", `{}`)
			}
			s := newSub(t, h, "")
			if _, err := s.Subscribe("t", transports.SubscribeOptions{After: tc.after, Snapshot: tc.snapshot}); err != nil {
				t.Fatal(err)
			}
			if got := drainEvents(s); !eq(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			publish(t, h, "t", "e", `{}`)
			live := fmt.Sprintf("e:%d", tc.publish+1)
			if got := drainEvents(s); !eq(got, []string{live}) {
				t.Fatalf("live: got %v, want [%s]", got, live)
			}
		})
	}
}

func TestResetData(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{History: 2})
	for range 5 {
		publish(t, h, "t", "e", `{}`)
	}
	s := newSub(t, h, "")
	if _, err := s.Subscribe("t", transports.SubscribeOptions{After: u(1)}); err != nil {
		t.Fatal(err)
	}
	it := s.Drain(nil)[0]
	var d transports.ResetData
	if err := json.Unmarshal(it.Event.Data, &d); err != nil {
		t.Fatal(err)
	}
	want := transports.ResetData{Reason: transports.ResetHistoryExpired, Cursor: 1, LostFrom: 2, LostTo: 3, FirstAvailable: 4, Latest: 5}
	if d != want {
		t.Fatalf("reset = %+v, want %+v", d, want)
	}
}

// TestResumeUnderConcurrentPublish checks the central guarantee: a
// subscription that resumes while publishes race with it sees every event
// exactly once, in order.
func TestResumeUnderConcurrentPublish(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{History: 100000, QueueSize: 100000})
	const total = 5000
	for range 20 { // every cursor below is within the topic
		publish(t, h, "t", "e", `{}`)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // owner: this test, which waits for it (wg)
		defer wg.Done()
		for range total - 20 {
			if _, err := h.Publish(context.Background(), "t", "e", nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var subs []*transports.Subscriber
	for i := range 20 {
		s := newSub(t, h, "")
		if _, err := s.Subscribe("t", transports.SubscribeOptions{After: u(uint64(i))}); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	wg.Wait()
	for i, s := range subs {
		next := uint64(i) + 1
		for _, it := range s.Drain(nil) {
			if it.Event.Seq != next {
				t.Fatalf("sub %d: got seq %d, want %d", i, it.Event.Seq, next)
			}
			next++
		}
		if next != total+1 {
			t.Fatalf("sub %d ended at %d, want %d", i, next-1, total)
		}
	}
}

func TestEndOnTerminal(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	publish(t, h, "task:1", taskstream.KindQueued, `{"status":"queued"}`)
	s := newSub(t, h, "")
	opts := transports.SubscribeOptions{Snapshot: true, EndOnTerminal: true}
	if _, err := s.Subscribe("task:1", opts); err != nil {
		t.Fatal(err)
	}
	publish(t, h, "task:1", taskstream.KindProgress, `{}`)
	publish(t, h, "task:1", taskstream.KindCompleted, `{}`)
	want := []string{"snapshot:1", "progress:2", "completed:3!"}
	if got := drainEvents(s); !eq(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s.Following("task:1") {
		t.Fatal("still following after the terminal event")
	}

	// A late subscriber to a finished task gets a final snapshot.
	late := newSub(t, h, "")
	if _, err := late.Subscribe("task:1", opts); err != nil {
		t.Fatal(err)
	}
	if got := drainEvents(late); !eq(got, []string{"snapshot:3!"}) {
		t.Fatalf("late: got %v", got)
	}

	// Resuming before the end replays to the terminal event and ends.
	h2 := transports.NewHub(transports.HubConfig{Terminal: taskstream.IsTerminal})
	for _, k := range []string{"queued", "progress", "failed"} {
		publish(t, h2, "task:2", k, `{}`)
	}
	r := newSub(t, h2, "")
	if _, err := r.Subscribe("task:2", transports.SubscribeOptions{After: u(1), Snapshot: true, EndOnTerminal: true}); err != nil {
		t.Fatal(err)
	}
	if got := drainEvents(r); !eq(got, []string{"progress:2", "failed:3!"}) {
		t.Fatalf("resume: got %v", got)
	}
	// Resuming at the end: nothing to send.
	done := newSub(t, h2, "")
	if _, err := done.Subscribe("task:2", transports.SubscribeOptions{After: u(3), Snapshot: true, EndOnTerminal: true}); !errors.Is(err, transports.ErrEnded) {
		t.Fatalf("resume at end: err = %v, want ErrEnded", err)
	}
}

func TestSlowConsumerIsClosedOthersUnaffected(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{QueueSize: 4})
	slow, fast := newSub(t, h, ""), newSub(t, h, "")
	for _, s := range []*transports.Subscriber{slow, fast} {
		if _, err := s.Subscribe("t", transports.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var got int
	for range 10 {
		publish(t, h, "t", "e", `{}`)
		got += len(fast.Drain(nil))
	}
	if got != 10 {
		t.Fatalf("fast subscriber got %d of 10", got)
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscriber not closed")
	}
	if r := transports.ReasonOf(slow.Cause()); r != transports.ReasonSlowConsumer {
		t.Fatalf("cause = %v", slow.Cause())
	}
	if h.Stats().SlowClosed != 1 {
		t.Fatalf("stats = %+v", h.Stats())
	}
}

func TestDropAllAndClose(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	a, _ := h.NewSubscriber(transports.SubscriberOptions{Transport: "ws"})
	b, _ := h.NewSubscriber(transports.SubscriberOptions{Transport: "sse"})
	defer a.Close(nil)
	defer b.Close(nil)
	if n := h.DropAll("ws"); n != 1 {
		t.Fatalf("dropped %d", n)
	}
	if transports.ReasonOf(a.Cause()) != transports.ReasonDropped || b.Cause() != nil {
		t.Fatalf("causes: %v %v", a.Cause(), b.Cause())
	}
	if st := h.Stats(); st.Connections["ws"] != 1 || st.Connections["sse"] != 1 {
		t.Fatalf("a kicked subscriber stays counted until its connection closes it: %+v", st)
	}
	h.Close()
	if transports.ReasonOf(b.Cause()) != transports.ReasonShutdown {
		t.Fatalf("b cause %v", b.Cause())
	}
	if _, err := h.NewSubscriber(transports.SubscriberOptions{}); !errors.Is(err, transports.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := h.Publish(context.Background(), "t", "e", nil); !errors.Is(err, transports.ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

func TestSubscribeErrors(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	s := newSub(t, h, "")
	if _, err := s.Subscribe("t", transports.SubscribeOptions{Ack: true, ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if got := drainEvents(s); !eq(got, []string{"ctl:subscribed"}) {
		t.Fatalf("ack: %v", got)
	}
	if _, err := s.Subscribe("t", transports.SubscribeOptions{}); !errors.Is(err, transports.ErrAlreadySubscribed) {
		t.Fatalf("twice: %v", err)
	}
	if _, err := s.Subscribe("a b", transports.SubscribeOptions{}); err == nil {
		t.Fatal("bad topic accepted")
	}
	if err := s.Unsubscribe("t"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unsubscribe("t"); !errors.Is(err, transports.ErrNotSubscribed) {
		t.Fatalf("unsubscribe twice: %v", err)
	}
	publish(t, h, "t", "e", `{}`)
	if got := drainEvents(s); got != nil {
		t.Fatalf("after unsubscribe: %v", got)
	}
}
