package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// EventKind is the kind of the events the publisher sends.
const EventKind = "tick"

// maxInFlight bounds the publish requests in flight per target and topic.
// A due publish that finds the bound reached waits for a free slot (and
// its lag shows in max_lag_ms); it is never dropped.
const maxInFlight = 256

// publisher is an open-loop publisher: for every target and topic it
// POSTs /api/topics/:topic/events at a fixed rate on a fixed schedule. Each
// scheduled publish starts at its due time in a goroutine of its own, so a
// slow answer delays neither the schedule nor the next request (up to
// maxInFlight requests at once per target and topic). It records the seq
// range each target assigned, per epoch.
type publisher struct {
	client   *http.Client
	targets  []adapter
	topics   []string
	rate     float64 // per topic
	size     int
	inFlight int // bound per target and topic
	epoch    atomic.Int64
	// payload is the data's kind (Config.Payload).
	payload string
	// cluster: the targets are the nodes of one deployment (cluster.go):
	// each event goes through one of them, in turn, and the windows are
	// per topic (AnyTarget) with each seq's origin.
	cluster bool

	// gate: a publish holds it shared; pauseFor holds it exclusively to
	// switch servers (restart) with no request in flight.
	gate   sync.RWMutex
	down   bool
	paused int

	mu      sync.Mutex
	windows map[windowKey]*Window
	origins map[windowKey]map[uint64]int // cluster: seq → the target that published it
	// failed holds, for targets the publisher stamps, the indices whose
	// publish failed: Windows leaves them out (see Windows).
	failed    map[windowKey][]uint64
	req       *hdr.Histogram // due time → answer, µs
	scheduled int            // fixed count per run (0: until cancelled)
	published int
	errors    int
	waited    int // publishes that found maxInFlight requests in flight
	current   int // requests in flight now, all topics
	peak      int // most requests in flight at once, all topics
	maxLag    time.Duration
	lastErr   string
}

type windowKey struct {
	target int
	topic  string
	epoch  int
}

// newPublisher returns a publisher to twinstream servers at the base URLs
// targets.
func newPublisher(targets, topics []string, rate float64, size int) *publisher {
	ts := make([]*target, len(targets))
	for i, u := range targets {
		ts[i] = newTarget(u, nil)
	}
	return newTargetPublisher(ts, topics, rate, size)
}

// newTargetPublisher returns a publisher to targets of any kind, each
// through its adapter.
func newTargetPublisher(ts []*target, topics []string, rate float64, size int) *publisher {
	targets := make([]adapter, len(ts))
	for i, t := range ts {
		targets[i] = t.adapter
	}
	// Enough idle connections to reuse one per request in flight.
	conns := min(maxInFlight*len(topics), 1024)
	tr := &http.Transport{MaxIdleConns: conns * len(targets), MaxIdleConnsPerHost: conns, DisableCompression: true,
		TLSClientConfig: insecureTLS()} // https: the spawned demo's --tls-self-signed
	return &publisher{
		// An overloaded server answers late, not never: a publish is an
		// error only after a minute (a late answer shows as lag and in the
		// from-schedule latency; a timed-out one would shorten the workload).
		client:  &http.Client{Transport: tr, Timeout: time.Minute},
		targets: targets, topics: topics, rate: rate, size: size, inFlight: maxInFlight,
		windows: map[windowKey]*Window{}, failed: map[windowKey][]uint64{}, req: NewHist(),
		origins: map[windowKey]map[uint64]int{},
	}
}

// eventsFor is the fixed number of events per topic (and target) of a run
// of duration d.
func eventsFor(rate float64, d time.Duration) int {
	return int(math.Round(rate * d.Seconds()))
}

// run publishes round(rate × d) events to every topic of every target
// (d <= 0: until ctx ends), each at its due time, however slow the server
// answers. It returns when every scheduled event was sent and answered, or
// when ctx ends: then no further event starts, and it waits for the
// requests in flight (they are not cut, see publishOne; the client's
// timeout bounds them).
func (p *publisher) run(ctx context.Context, d time.Duration) {
	n := -1
	if d > 0 {
		n = eventsFor(p.rate, d)
		p.mu.Lock()
		p.scheduled = n * len(p.targets) * len(p.topics)
		if p.cluster {
			p.scheduled = n * len(p.topics) // each event once, through one node
		}
		p.mu.Unlock()
	}
	start := time.Now()
	var wg sync.WaitGroup
	if p.cluster {
		for _, topic := range p.topics {
			wg.Go(func() { p.loop(ctx, start, n, AnyTarget, nil, topic) })
		}
	} else {
		for ti, target := range p.targets {
			for _, topic := range p.topics {
				wg.Go(func() { p.loop(ctx, start, n, ti, target, topic) })
			}
		}
	}
	wg.Wait()
	p.client.CloseIdleConnections()
}

// loop fires the n publishes of one target and topic (n < 0: until ctx
// ends) and waits for their answers. With ti AnyTarget (a deployment) the
// k-th event goes through target k mod the targets.
func (p *publisher) loop(ctx context.Context, start time.Time, n, ti int, target adapter, topic string) {
	interval := time.Duration(float64(time.Second) / p.rate)
	slots := make(chan struct{}, p.inFlight)
	var wg sync.WaitGroup // the requests in flight; owner: this loop
	defer wg.Wait()
	timer := time.NewTimer(time.Hour)
	timer.Stop() // reset for each wait
	defer timer.Stop()
	for k := 0; n < 0 || k < n; k++ {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		select {
		case slots <- struct{}{}:
		default: // maxInFlight requests in flight: wait (the lag records it)
			p.mu.Lock()
			p.waited++
			p.mu.Unlock()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
		}
		index := uint64(k + 1)
		via, through := ti, target
		if ti == AnyTarget {
			via = k % len(p.targets)
			through = p.targets[via]
		}
		wg.Go(func() {
			defer func() { <-slots }()
			p.publishOne(ctx, via, through, topic, index, due)
		})
	}
}

func (p *publisher) publishOne(ctx context.Context, ti int, target adapter, topic string, index uint64, due time.Time) {
	p.gate.RLock()
	defer p.gate.RUnlock()
	if p.down {
		p.mu.Lock()
		p.paused++
		p.mu.Unlock()
		return
	}
	epoch := int(p.epoch.Load())
	if target.stamps() {
		epoch = 0 // a stamped event's epoch (see Sub.Stamped)
	}
	sent := time.Now()
	p.mu.Lock()
	p.maxLag = max(p.maxLag, sent.Sub(due))
	p.current++
	p.peak = max(p.peak, p.current)
	p.mu.Unlock()
	// The request is not cut when the run ends: an event the server
	// published must be in the window, or its deliveries would go uncounted.
	seq, err := target.publish(context.WithoutCancel(ctx), p.client, topic, pubEvent{index: index, due: due, epoch: epoch, size: p.size, kind: p.payload})
	took := time.Since(due)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current--
	if err != nil {
		if target.stamps() {
			k := windowKey{ti, topic, epoch}
			p.failed[k] = append(p.failed[k], index)
		}
		// No seq assigned that we know of. If the server did publish it
		// (an answer lost), it lies inside the window when later events
		// succeeded (and is expected, rightly), or past its end (and is
		// not counted at all): the accounting stays exact either way.
		p.errors++
		p.lastErr = err.Error()
		return
	}
	p.published++
	_ = p.req.RecordValue(clampMicros(int64(took / time.Microsecond)))
	k := windowKey{ti, topic, epoch}
	if p.cluster {
		k.target = AnyTarget
		if p.origins[k] == nil {
			p.origins[k] = map[uint64]int{}
		}
		p.origins[k][seq] = ti
	}
	w := p.windows[k]
	if w == nil {
		w = &Window{Target: k.target, Topic: topic, Epoch: epoch, From: seq, To: seq}
		p.windows[k] = w
	}
	w.From, w.To = min(w.From, seq), max(w.To, seq)
}

// postEvent publishes ev to a twinstream server's endpoint
// (POST /api/topics/:topic/events) and returns the seq it assigned.
func postEvent(ctx context.Context, client *http.Client, endpoint string, ev pubEvent) (uint64, error) {
	body, _ := json.Marshal(struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}{EventKind, payloadFunc(ev.kind)(ev.epoch, ev.due, ev.size)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("publish: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var r struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Seq == 0 {
		return 0, fmt.Errorf("publish: no seq in %s", b)
	}
	return r.Seq, nil
}

// pauseFor runs fn with no publish in flight and none starting (ticks
// that fall in it are skipped, not caught up: the publisher stays open-loop),
// then moves to the next epoch: fn restarts the server, whose sequences
// start over.
func (p *publisher) pauseFor(fn func() error) error {
	p.gate.Lock()
	p.down = true
	p.gate.Unlock()
	err := fn()
	p.gate.Lock()
	p.epoch.Add(1)
	p.down = false
	p.gate.Unlock()
	return err
}

// Windows returns the seq ranges published so far. On a target the
// publisher stamps, an event whose publish failed was (as far as anyone
// knows) not published, so the range is split around it: it is expected of
// no one, and if it arrives it counts for nothing.
func (p *publisher) Windows() []Window {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Window, 0, len(p.windows))
	for k, w := range p.windows {
		if by := p.origins[k]; by != nil {
			cp := *w
			setOrigins(&cp, by)
			out = append(out, cp)
			continue
		}
		out = append(out, splitWindow(*w, p.failed[k])...)
	}
	return out
}

// splitWindow cuts the seqs in skip out of w.
func splitWindow(w Window, skip []uint64) []Window {
	if len(skip) == 0 {
		return []Window{w}
	}
	skip = slices.Sorted(slices.Values(skip))
	var out []Window
	from := w.From
	for _, s := range skip {
		if s < from || s > w.To {
			continue
		}
		if s > from {
			out = append(out, Window{Target: w.Target, Topic: w.Topic, Epoch: w.Epoch, From: from, To: s - 1})
		}
		from = s + 1
	}
	if from <= w.To {
		out = append(out, Window{Target: w.Target, Topic: w.Topic, Epoch: w.Epoch, From: from, To: w.To})
	}
	return out
}

func (p *publisher) stats() *Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &Publisher{Scheduled: p.scheduled, Published: p.published, Errors: p.errors, LastError: p.lastErr,
		Skipped: p.paused, InFlight: p.current, PeakInFlight: p.peak, WaitedForSlot: p.waited,
		RequestMS: PercentilesOf(p.req), MaxLagMS: round3(float64(p.maxLag) / float64(time.Millisecond))}
}

// status is the publisher's part of the live progress line.
func (s *Publisher) status() string {
	out := fmt.Sprintf("published %d", s.Published)
	if s.Scheduled > 0 {
		out += fmt.Sprintf("/%d", s.Scheduled)
	}
	out += fmt.Sprintf(" (in flight %d, errors %d)", s.InFlight, s.Errors)
	return out
}

// report tells w about failed publishes, if any.
func (s *Publisher) report(w io.Writer, label string) {
	if s.Errors > 0 {
		fmt.Fprintf(w, "[%s] publisher: %d of %d requests failed; last: %s\n", label, s.Errors, s.Published+s.Errors, s.LastError)
	}
	if s.Scheduled > 0 && s.Published+s.Errors+s.Skipped < s.Scheduled {
		fmt.Fprintf(w, "[%s] publisher: stopped after %d of %d scheduled events\n", label, s.Published+s.Errors+s.Skipped, s.Scheduled)
	}
}
