package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// EventKind is the kind of the events the publisher sends.
const EventKind = "tick"

// publisher is an open-loop publisher: for every target and topic it
// POSTs /api/topics/:topic/events at a fixed rate on a fixed schedule
// (a late request does not push the schedule back), and records the seq
// range each target assigned, per epoch.
type publisher struct {
	client  *http.Client
	targets []string
	topics  []string
	rate    float64 // per topic
	size    int
	epoch   atomic.Int64

	// gate: a publish holds it shared; pauseFor holds it exclusively to
	// switch servers (restart) with no request in flight.
	gate   sync.RWMutex
	down   bool
	paused int

	mu        sync.Mutex
	windows   map[windowKey]*Window
	req       *hdr.Histogram // request latency, corrected for coordinated omission
	published int
	errors    int
	maxLag    time.Duration
	lastErr   string
}

type windowKey struct {
	target int
	topic  string
	epoch  int
}

func newPublisher(targets, topics []string, rate float64, size int) *publisher {
	tr := &http.Transport{MaxIdleConnsPerHost: len(topics) + 4, DisableCompression: true}
	return &publisher{
		client:  &http.Client{Transport: tr, Timeout: 10 * time.Second},
		targets: targets, topics: topics, rate: rate, size: size,
		windows: map[windowKey]*Window{}, req: NewHist(),
	}
}

// run publishes until ctx ends or d passes (d <= 0: until ctx ends).
func (p *publisher) run(ctx context.Context, d time.Duration) {
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for ti, target := range p.targets {
		for _, topic := range p.topics {
			wg.Go(func() { p.loop(ctx, start, ti, target, topic) })
		}
	}
	wg.Wait()
	p.client.CloseIdleConnections()
}

func (p *publisher) loop(ctx context.Context, start time.Time, ti int, target, topic string) {
	interval := time.Duration(float64(time.Second) / p.rate)
	endpoint := target + "/api/topics/" + url.PathEscape(topic) + "/events"
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		p.publishOne(ctx, ti, endpoint, topic, due, interval)
	}
}

func (p *publisher) publishOne(ctx context.Context, ti int, endpoint, topic string, due time.Time, interval time.Duration) {
	p.gate.RLock()
	defer p.gate.RUnlock()
	if p.down {
		p.mu.Lock()
		p.paused++
		p.mu.Unlock()
		return
	}
	epoch := int(p.epoch.Load())
	body, _ := json.Marshal(struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}{EventKind, Payload(epoch, due, p.size)})
	sent := time.Now()
	// The request is not cut when the run ends: an event the server
	// published must be in the window, or its deliveries would go uncounted.
	seq, err := p.post(context.WithoutCancel(ctx), endpoint, body)
	took := time.Since(sent)
	p.mu.Lock()
	defer p.mu.Unlock()
	if lag := sent.Sub(due); lag > p.maxLag {
		p.maxLag = lag
	}
	if err != nil {
		p.errors++
		p.lastErr = err.Error()
		return
	}
	p.published++
	_ = p.req.RecordCorrectedValue(clampMicros(int64(took/time.Microsecond)), int64(interval/time.Microsecond))
	k := windowKey{ti, topic, epoch}
	w := p.windows[k]
	if w == nil {
		w = &Window{Target: ti, Topic: topic, Epoch: epoch, From: seq, To: seq}
		p.windows[k] = w
	}
	w.From, w.To = min(w.From, seq), max(w.To, seq)
}

func (p *publisher) post(ctx context.Context, endpoint string, body []byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("publish: %s: %s", resp.Status, b)
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

// Windows returns the seq ranges published so far.
func (p *publisher) Windows() []Window {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Window, 0, len(p.windows))
	for _, w := range p.windows {
		out = append(out, *w)
	}
	return out
}

func (p *publisher) stats() *Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &Publisher{Published: p.published, Errors: p.errors, Skipped: p.paused, RequestMS: PercentilesOf(p.req),
		MaxLagMS: round3(float64(p.maxLag) / float64(time.Millisecond))}
}
