package transports_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// bigEvents publishes n events of about 1 KB on topic.
func bigEvents(t *testing.T, h *transports.Hub, topic string, n int) {
	t.Helper()
	data := `{"pad":"` + strings.Repeat("x", 1000) + `"}`
	for range n {
		publish(t, h, topic, "tick", data)
	}
}

// Issue 10, "resume catch-ups are not counted against the per-connection
// queue": a client that never reads and cycles subscribe(last_seq=0) /
// unsubscribe on a topic with 1,000 × 1 KB of history grew the server by
// hundreds of MB in seconds. Catch-ups now draw on a bounded allowance: the
// cycling client is closed as a slow consumer and its queue never holds
// more than the allowance.
func TestCatchUpCyclesAreBounded(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{History: 1000})
	defer h.Close()
	bigEvents(t, h, "big", 1000)
	s := newSub(t, h, "")
	maxLen := 0
	var err error
	for range 1000 {
		if _, err = s.Subscribe("big", transports.SubscribeOptions{After: u(0)}); err != nil {
			break
		}
		maxLen = max(maxLen, s.Len())
		if err = s.Unsubscribe("big"); err != nil {
			break
		}
	}
	if !errors.Is(err, transports.ReasonSlowConsumer) || transports.ReasonOf(s.Cause()) != transports.ReasonSlowConsumer {
		t.Fatalf("after the cycles: err %v, cause %v; want the client closed as a slow consumer", err, s.Cause())
	}
	// 1 MiB of catch-ups at most (QueueBytes): about 1,000 events of 1 KB.
	if maxLen > transports.DefaultQueueBytes/1000+2 {
		t.Fatalf("queue reached %d items, past the catch-up allowance", maxLen)
	}
}

// A catch-up larger than the whole allowance is trimmed to its newest
// events behind a reset naming the range not sent; the reset's seq is the
// client's new cursor and the events after it are contiguous.
func TestCatchUpTrimmedBehindReset(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{History: 1000, QueueBytes: 64 << 10})
	defer h.Close()
	bigEvents(t, h, "big", 1000)
	s := newSub(t, h, "")
	if _, err := s.Subscribe("big", transports.SubscribeOptions{After: u(0)}); err != nil {
		t.Fatal(err)
	}
	items := s.Drain(nil)
	first := items[0].Event
	var rd transports.ResetData
	if first == nil || first.Kind != transports.KindReset || json.Unmarshal(first.Data, &rd) != nil || rd.Reason != transports.ResetBacklog {
		t.Fatalf("first item %+v, want a %s reset", first, transports.ResetBacklog)
	}
	if rd.LostFrom != 1 || rd.LostTo != first.Seq || rd.Latest != 1000 {
		t.Fatalf("reset %+v with seq %d: want lost_from 1, lost_to = its seq, latest 1000", rd, first.Seq)
	}
	size := 0
	for i, it := range items[1:] {
		if want := first.Seq + 1 + uint64(i); it.Event.Seq != want {
			t.Fatalf("event %d: seq %d, want %d", i, it.Event.Seq, want)
		}
		size += len(it.Event.JSON())
	}
	if last := items[len(items)-1].Event.Seq; last != 1000 || size > 64<<10 {
		t.Fatalf("replayed up to %d in %d bytes, want up to 1000 within 64 KiB", last, size)
	}
}

// Issue 10, "cursor edge cases": Last-Event-ID 2^64−1 gave a reset with
// lost_from 0 (overflow), and a cursor ahead of the topic got a reset with
// seq = latest followed by lower seqs.
func TestCursorEdges(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	defer h.Close()
	for range 3 {
		publish(t, h, "t", "e", `{}`)
	}
	s := newSub(t, h, "")
	if _, err := s.Subscribe("t", transports.SubscribeOptions{After: u(math.MaxUint64)}); err != nil {
		t.Fatal(err)
	}
	items := s.Drain(nil)
	var rd transports.ResetData
	if err := json.Unmarshal(items[0].Event.Data, &rd); err != nil || rd.Reason != transports.ResetCursorAhead || rd.LostFrom != math.MaxUint64 {
		t.Fatalf("reset %+v (%v), want cursor_ahead with lost_from saturated at 2^64-1", rd, err)
	}
	last := items[0].Event.Seq
	for _, it := range items[1:] {
		if it.Event.Seq <= last {
			t.Fatalf("seq %d after %d: a reset's seq is the new cursor and nothing lower may follow", it.Event.Seq, last)
		}
		last = it.Event.Seq
	}
	if last != 3 {
		t.Fatalf("replayed up to %d, want 3", last)
	}
}

// DropPaced kicks everyone, in batches over the pace.
func TestDropPaced(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{})
	defer h.Close()
	subs := make([]*transports.Subscriber, 100)
	for i := range subs {
		subs[i] = newSub(t, h, "")
	}
	start := time.Now()
	if n := h.DropPaced(context.Background(), "", 200*time.Millisecond); n != len(subs) {
		t.Fatalf("dropped %d, want %d", n, len(subs))
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("a drop paced over 200 ms took %v", d)
	}
	for i, s := range subs {
		if transports.ReasonOf(s.Cause()) != transports.ReasonDropped {
			t.Fatalf("subscriber %d: cause %v", i, s.Cause())
		}
	}
}

// Issue 10, "no per-connection topic cap": a connection follows at most
// MaxTopics topics; past it Subscribe fails with ErrTooManyTopics.
func TestMaxTopicsPerConnection(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{MaxTopics: 3})
	defer h.Close()
	s := newSub(t, h, "")
	for _, topic := range []string{"a", "b", "c"} {
		if _, err := s.Subscribe(topic, transports.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Subscribe("d", transports.SubscribeOptions{}); !errors.Is(err, transports.ErrTooManyTopics) {
		t.Fatalf("4th topic: %v, want ErrTooManyTopics", err)
	}
	if err := s.Unsubscribe("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe("d", transports.SubscribeOptions{}); err != nil {
		t.Fatalf("after an unsubscribe: %v", err)
	}
}

// Issue 10, "an SSE id the server will not take back": 63 topics of 128
// characters made a first id of 8,252 bytes, refused on reconnect with
// 400 (and EventSource stops for good on 400). A connect whose resume id
// could outgrow what the server accepts is refused up front, naming the
// field.
func TestConnectRefusesAnIDItCouldNotTakeBack(t *testing.T) {
	q := url.Values{}
	for i := range 63 {
		q.Add("topic", fmt.Sprintf("%03d-%s", i, strings.Repeat("t", 124)))
	}
	r := httptest.NewRequest(http.MethodGet, "/sse?"+q.Encode(), nil)
	_, ef := transports.ParseConnect(r)
	if ef == nil || ef.Fields["topic"] == "" {
		t.Fatalf("ParseConnect = %v, want a topic field error", ef)
	}
	q = url.Values{"topic": q["topic"][:40]}
	if _, ef := transports.ParseConnect(httptest.NewRequest(http.MethodGet, "/sse?"+q.Encode(), nil)); ef != nil {
		t.Fatalf("40 topics of 128 characters fit: %v", ef)
	}
}

// Issue 10, "history is capped by event count, not bytes": 5,200 POSTs of
// 60 KB to 5 topics with no subscribers held ~657 MB. A topic's history is
// bounded in bytes too (its oldest events go first, and a resume from
// before them gets a reset), and all topics' together: past the global
// budget the longest-idle topics without subscribers are forgotten.
func TestHistoryBoundedInBytes(t *testing.T) {
	h := transports.NewHub(transports.HubConfig{History: 1000, TopicHistoryBytes: 256 << 10, HistoryBytes: 1 << 20})
	defer h.Close()
	data := `{"pad":"` + strings.Repeat("x", 60<<10) + `"}`
	for i := range 100 {
		publish(t, h, fmt.Sprintf("t%d", i%20), "big", data)
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.HistoryBytes() > 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("history holds %d bytes, over its 1 MiB budget", h.HistoryBytes())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// One topic alone: 100 events of 60 KB keep only the newest ~256 KB.
	h2 := transports.NewHub(transports.HubConfig{History: 1000, TopicHistoryBytes: 256 << 10})
	defer h2.Close()
	for range 100 {
		publish(t, h2, "one", "big", data)
	}
	if b := h2.HistoryBytes(); b > 256<<10 {
		t.Fatalf("one topic holds %d bytes of history, over 256 KiB", b)
	}
	s := newSub(t, h2, "")
	if _, err := s.Subscribe("one", transports.SubscribeOptions{After: u(0)}); err != nil {
		t.Fatal(err)
	}
	items := s.Drain(nil)
	var rd transports.ResetData
	if items[0].Event.Kind != transports.KindReset || json.Unmarshal(items[0].Event.Data, &rd) != nil || rd.Reason != transports.ResetHistoryExpired {
		t.Fatalf("first item %+v, want a history_expired reset", items[0].Event)
	}
	if last := items[len(items)-1].Event.Seq; last != 100 || len(items) > 6 {
		t.Fatalf("replayed %d items up to seq %d, want the newest few up to 100", len(items), last)
	}
}
