package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinstream/twinstream/transports"
)

// slowServer is POST /api/topics/{topic}/events on a real hub, answering
// each request only after delay; every fail-th request (counted per
// server, from 1) is refused with 500 and publishes nothing.
type slowServer struct {
	hub   *transports.Hub
	delay time.Duration
	fail  int

	mu       sync.Mutex
	requests int
	current  int
	peak     int
	early    int // requests that arrived before their scheduled time
}

func newSlowServer(t *testing.T, delay time.Duration, fail int) (*slowServer, string) {
	t.Helper()
	s := &slowServer{hub: transports.NewHub(transports.HubConfig{}), delay: delay, fail: fail}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/topics/{topic}/events", s.publish)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); s.hub.Close() })
	return s, srv.URL
}

func (s *slowServer) publish(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	var body struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, sched := PayloadMeta(body.Data)
	s.mu.Lock()
	s.requests++
	n := s.requests
	s.current++
	s.peak = max(s.peak, s.current)
	if arrived.Before(time.UnixMicro(sched)) {
		s.early++
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.current--
		s.mu.Unlock()
	}()
	select {
	case <-time.After(s.delay):
	case <-r.Context().Done():
		return
	}
	if s.fail > 0 && n%s.fail == 0 {
		http.Error(w, "refused", http.StatusInternalServerError)
		return
	}
	e, err := s.hub.Publish(r.Context(), r.PathValue("topic"), body.Event, body.Data)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"topic": e.Topic, "seq": e.Seq})
}

func (s *slowServer) counts() (requests, peak, early int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.peak, s.early
}

// windowsByTopic indexes windows (all of target 0, epoch 0).
func windowsByTopic(t *testing.T, ws []Window) map[string]Window {
	t.Helper()
	out := map[string]Window{}
	for _, w := range ws {
		if w.Target != 0 || w.Epoch != 0 {
			t.Errorf("unexpected window %+v", w)
		}
		out[w.Topic] = w
	}
	return out
}

// A server that takes 200 ms per publish still gets every scheduled
// event, on schedule: the requests overlap instead of queueing behind one
// another (a sequential publisher would fall 3 s behind and, bounded by
// time, publish 5 of 20 per topic).
func TestPublisherSlowServer(t *testing.T) {
	srv, url := newSlowServer(t, 200*time.Millisecond, 0)
	topics := []string{"slow-a", "slow-b"}
	const rate, d = 20, time.Second
	p := newPublisher([]string{url}, topics, rate, 64)
	p.run(context.Background(), d)

	n := eventsFor(rate, d)
	st := p.stats()
	if n != 20 || st.Scheduled != n*len(topics) || st.Published != n*len(topics) || st.Errors != 0 || st.InFlight != 0 {
		t.Fatalf("round(%v × %s) = %d; stats %+v", rate, d, n, st)
	}
	requests, peak, early := srv.counts()
	if requests != n*len(topics) {
		t.Errorf("server saw %d requests, want %d", requests, n*len(topics))
	}
	// 200 ms per answer and one due every 50 ms per topic: about 8 at once.
	if peak < 2 || st.PeakInFlight < 2 {
		t.Errorf("at most %d requests at once at the server (publisher says %d): not concurrent", peak, st.PeakInFlight)
	}
	if early != 0 {
		t.Errorf("%d requests arrived before their scheduled time", early)
	}
	if st.MaxLagMS > 1000 || st.WaitedForSlot != 0 {
		t.Errorf("max lag %.1f ms, %d waited for a slot: not on schedule", st.MaxLagMS, st.WaitedForSlot)
	}
	if st.RequestMS.Count != int64(n*len(topics)) || st.RequestMS.P50 < 200 {
		t.Errorf("request latency %+v: want %d values of at least the server's 200 ms", st.RequestMS, n*len(topics))
	}
	byTopic := windowsByTopic(t, p.Windows())
	for _, topic := range topics {
		w, last := byTopic[topic], srv.hub.Latest(topic)
		if last == nil || w.From != 1 || w.To != last.Seq || w.To-w.From+1 != uint64(n) {
			t.Errorf("%s: window %+v, hub's latest %v; want 1..%d", topic, w, last, n)
		}
	}
}

// With the in-flight bound reached, a due publish waits for a slot: the
// lag shows it, and every event is still published.
func TestPublisherInFlightBound(t *testing.T) {
	srv, url := newSlowServer(t, 200*time.Millisecond, 0)
	p := newPublisher([]string{url}, []string{"bounded"}, 50, 64)
	p.inFlight = 2
	p.run(context.Background(), 400*time.Millisecond)

	st := p.stats()
	_, peak, _ := srv.counts()
	if st.Published != 20 || st.Scheduled != 20 || st.Errors != 0 {
		t.Fatalf("stats %+v, want 20 of 20 published", st)
	}
	if peak > 2 || st.PeakInFlight > 2 {
		t.Errorf("%d requests at once at the server (publisher says %d), bound 2", peak, st.PeakInFlight)
	}
	// 20 requests, 2 at a time, 200 ms each: the last starts ~1.8 s in,
	// ~1.4 s behind its schedule.
	if st.WaitedForSlot == 0 || st.MaxLagMS < 500 {
		t.Errorf("waited %d times, max lag %.1f ms: the wait for a slot is not recorded", st.WaitedForSlot, st.MaxLagMS)
	}
	if w := windowsByTopic(t, p.Windows())["bounded"]; w.From != 1 || w.To != 20 {
		t.Errorf("window %+v, want 1..20", w)
	}
}

// A refused request assigns no seq: it counts as an error, with the reason,
// and the window covers exactly the seqs the server assigned.
func TestPublisherErrors(t *testing.T) {
	srv, url := newSlowServer(t, 20*time.Millisecond, 3)
	p := newPublisher([]string{url}, []string{"flaky"}, 20, 64)
	p.run(context.Background(), 500*time.Millisecond) // 10 events; requests 3, 6 and 9 refused

	st := p.stats()
	if st.Scheduled != 10 || st.Published != 7 || st.Errors != 3 || !strings.Contains(st.LastError, "500") {
		t.Fatalf("stats %+v, want 7 published and 3 errors (500) of 10", st)
	}
	w := windowsByTopic(t, p.Windows())["flaky"]
	last := srv.hub.Latest("flaky")
	if last == nil || w.From != 1 || w.To != last.Seq || w.To-w.From+1 != uint64(st.Published) {
		t.Errorf("window %+v, hub's latest %v: expected deliveries must be the %d published", w, last, st.Published)
	}
}

// Cancelling (Ctrl-C) stops the schedule at once and waits only for the
// requests in flight, whose seqs still make the window.
func TestPublisherCancel(t *testing.T) {
	srv, url := newSlowServer(t, 200*time.Millisecond, 0)
	p := newPublisher([]string{url}, []string{"cut"}, 10, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	start := time.Now()
	p.run(ctx, time.Hour) // 36,000 scheduled
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("run took %s after cancel", took)
	}
	st := p.stats()
	requests, _, _ := srv.counts()
	if st.Published == 0 || st.Published >= st.Scheduled || st.Published != requests || st.InFlight != 0 {
		t.Fatalf("stats %+v, server saw %d requests: want every started request answered and counted", st, requests)
	}
	if w := windowsByTopic(t, p.Windows())["cut"]; w.From != 1 || w.To != uint64(st.Published) {
		t.Errorf("window %+v, want 1..%d", w, st.Published)
	}
}
