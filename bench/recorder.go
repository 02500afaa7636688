package bench

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/twinstream/twinstream/transports"
)

// A Recorder accumulates what one transport's clients in one process
// receive: HDR histograms of delivery latency and per-subscriber sequence
// tracking (see Sub).
//
// Two latencies are kept per delivery:
//   - latency: receive time − the event's ts (the server's publish time);
//   - latency from schedule: receive time − the time the open-loop publisher
//     meant to publish (carried in the payload, see Payload). A server stall
//     also delays the ts it stamps, hiding itself from the first figure; the
//     schedule-based figure is free of that coordinated omission.
//
// Each delivery is one event actually received and timed, so no samples go
// missing while a receiver stalls: the events queue and arrive late, each
// with its own latency. Back-filling with RecordCorrectedValue would count
// those delays twice, so it is off unless NewRecorder is given an interval
// (for closed-loop measurements such as request/response timing).
//
// Latency recording is sharded by subscriber so that thousands of clients
// receiving the same event at once do not queue on one lock. All methods are
// safe for concurrent use.
type Recorder struct {
	interval int64 // expected interval between events per subscriber, µs; 0 = no correction
	shards   []recShard

	deliveries atomic.Uint64
	lastNanos  atomic.Int64 // unix ns of the latest delivery
}

type recShard struct {
	mu     sync.Mutex
	total  *hdr.Histogram
	sched  *hdr.Histogram
	window *hdr.Histogram
	_      [32]byte // keep shards on separate cache lines
}

// NewRecorder returns a recorder. A non-zero expectedInterval records with
// RecordCorrectedValue: when a value exceeds the interval, the samples a
// stalled closed-loop requester would have taken are back-filled. Zero (the
// right choice for deliveries from an open-loop publisher) records each
// value once.
func NewRecorder(expectedInterval time.Duration) *Recorder {
	n := 4 * runtime.GOMAXPROCS(0)
	r := &Recorder{interval: int64(expectedInterval / time.Microsecond), shards: make([]recShard, n)}
	for i := range r.shards {
		r.shards[i].total = NewHist()
		r.shards[i].sched = NewHist()
		r.shards[i].window = NewHist()
	}
	return r
}

// Record adds one delivery, recorded on the given shard (any int; use the
// subscriber's index). fromSchedule is the latency from the publisher's
// scheduled time; pass a negative value when unknown.
func (r *Recorder) Record(shard int, latency, fromSchedule time.Duration, now time.Time) {
	us := clampMicros(int64(latency / time.Microsecond))
	s := &r.shards[uint(shard)%uint(len(r.shards))]
	s.mu.Lock()
	r.record(s.total, us)
	r.record(s.window, us)
	if fromSchedule >= 0 {
		r.record(s.sched, clampMicros(int64(fromSchedule/time.Microsecond)))
	}
	s.mu.Unlock()
	r.deliveries.Add(1)
	if ns := now.UnixNano(); ns > r.lastNanos.Load() {
		r.lastNanos.Store(ns) // racy max is fine: a few ns either way
	}
}

func (r *Recorder) record(h *hdr.Histogram, us int64) {
	if r.interval > 0 {
		_ = h.RecordCorrectedValue(us, r.interval)
		return
	}
	_ = h.RecordValue(us)
}

// Deliveries is the number of events recorded.
func (r *Recorder) Deliveries() uint64 { return r.deliveries.Load() }

// LastDelivery is when the latest event was recorded (zero if none).
func (r *Recorder) LastDelivery() time.Time {
	ns := r.lastNanos.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Total returns a merged copy of every latency recorded (receive − ts).
func (r *Recorder) Total() *hdr.Histogram {
	return r.merge(func(s *recShard) *hdr.Histogram { return s.total })
}

// FromSchedule returns a merged copy of the latencies from the publisher's
// schedule.
func (r *Recorder) FromSchedule() *hdr.Histogram {
	return r.merge(func(s *recShard) *hdr.Histogram { return s.sched })
}

func (r *Recorder) merge(pick func(*recShard) *hdr.Histogram) *hdr.Histogram {
	out := NewHist()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(pick(s))
		s.mu.Unlock()
	}
	return out
}

// TakeWindow returns what was recorded since the previous TakeWindow and
// starts a new window (for live progress: "current p99").
func (r *Recorder) TakeWindow() *hdr.Histogram {
	out := NewHist()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.window)
		s.window.Reset()
		s.mu.Unlock()
	}
	return out
}

// A Window is the range of seqs a publisher put on one topic of one target
// during the measurement, in one server epoch (the epoch changes when a
// spawned server restarts and sequences start over). Every subscriber of
// that topic on that target is expected to receive all of them. A
// deployment's window (cluster.go) has Target AnyTarget: it applies to the
// topic's subscribers on every target, and Origins names the target that
// published each seq (see setOrigins).
type Window struct {
	Target  int    `json:"target"`
	Topic   string `json:"topic"`
	Epoch   int    `json:"epoch"`
	From    uint64 `json:"from"`
	To      uint64 `json:"to"`
	Origins string `json:"origins,omitempty"`
}

// Tally is delivery accounting, summed over subscribers.
type Tally struct {
	Expected   uint64 `json:"expected"`
	Delivered  uint64 `json:"delivered"`
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
	OutOfOrder uint64 `json:"out_of_order"`
	Resets     uint64 `json:"resets"`
	// CrossNode counts the deliveries of a deployment's events to a
	// subscriber on another node than the one it was published through.
	CrossNode uint64 `json:"cross_node,omitempty"`
}

// Add sums o into t.
func (t *Tally) Add(o Tally) {
	t.Expected += o.Expected
	t.Delivered += o.Delivered
	t.Lost += o.Lost
	t.Duplicates += o.Duplicates
	t.OutOfOrder += o.OutOfOrder
	t.Resets += o.Resets
	t.CrossNode += o.CrossNode
}

type trackKey struct {
	topic string
	epoch int
}

// A Sub tracks one subscriber (one client, across its reconnects): a
// SeqTracker per topic and epoch. Its methods are safe for concurrent use
// (the client's reader calls Event while the worker may call Tally).
type Sub struct {
	rec    *Recorder
	index  int
	target int
	topics []string

	mu       sync.Mutex
	trackers map[trackKey]*SeqTracker
	resets   uint64
	last     transports.WireEvent // the latest event (kind, seq, data), for tasks
	lastAt   time.Time
}

// NewSub returns the tracker of subscriber index (also its histogram shard)
// on target, following topics.
func (r *Recorder) NewSub(index, target int, topics []string) *Sub {
	return &Sub{rec: r, index: index, target: target, topics: topics, trackers: map[trackKey]*SeqTracker{}}
}

// Event records one received event at time now and classifies it. Reset
// events are counted (they mean the server could not resume), snapshots
// are the state a stream starts from; neither is a delivery. Other events
// are deliveries: their seq is tracked and their latency recorded.
func (s *Sub) Event(e transports.WireEvent, now time.Time) Verdict {
	s.mu.Lock()
	s.last, s.lastAt = e, now
	if e.Event == transports.KindReset {
		s.resets++
		s.mu.Unlock()
		return InOrder
	}
	epoch, sched := PayloadMeta(e.Data)
	key := trackKey{e.Topic, epoch}
	t := s.trackers[key]
	if t == nil {
		t = &SeqTracker{}
		s.trackers[key] = t
	}
	v := t.Observe(e.Seq)
	s.mu.Unlock()
	if e.Event != transports.KindSnapshot && v != Duplicate {
		fromSched := time.Duration(-1)
		if sched > 0 {
			fromSched = now.Sub(time.UnixMicro(sched))
		}
		s.rec.Record(s.index, now.Sub(e.Time()), fromSched, now)
	}
	return v
}

// Last returns the latest event received and when (zero if none).
func (s *Sub) Last() (transports.WireEvent, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.lastAt
}

// Reached reports whether the subscriber has received seq to (or beyond) on
// the window's topic and epoch.
func (s *Sub) Reached(w Window) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trackers[trackKey{w.Topic, w.Epoch}]
	if t == nil {
		return false
	}
	hi, ok := t.Seen()
	return ok && hi >= w.To
}

// Follows reports whether the window applies to this subscriber.
func (s *Sub) Follows(w Window) bool {
	if w.Target != s.target && w.Target != AnyTarget {
		return false
	}
	for _, t := range s.topics {
		if t == w.Topic {
			return true
		}
	}
	return false
}

// Tally accounts the subscriber against the publisher's windows: every seq
// of every window it follows is expected once. Duplicates and out-of-order
// arrivals count over everything received.
func (s *Sub) Tally(windows []Window) Tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out Tally
	for _, w := range windows {
		if !s.Follows(w) || w.To < w.From {
			continue
		}
		exp := w.To - w.From + 1
		var got uint64
		if t := s.trackers[trackKey{w.Topic, w.Epoch}]; t != nil {
			got = t.Received(w.From, w.To)
			out.CrossNode += crossNode(t, w, s.target)
		}
		out.Expected += exp
		out.Delivered += got
		out.Lost += exp - got
	}
	for _, t := range s.trackers {
		d, o, _ := t.Counts()
		out.Duplicates += d
		out.OutOfOrder += o
	}
	out.Resets = s.resets
	return out
}

// SelfTally accounts the subscriber against itself, for streams whose
// extent only the stream knows (a task stream starts at its snapshot and
// ends at its terminal event): on each topic every seq from the first
// received to the last is expected.
func (s *Sub) SelfTally() Tally {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out Tally
	for _, t := range s.trackers {
		hi, ok := t.Seen()
		if !ok {
			continue
		}
		exp := hi - t.Lowest() + 1
		got := t.Received(t.Lowest(), hi)
		d, o, _ := t.Counts()
		out.Expected += exp
		out.Delivered += got
		out.Lost += exp - got
		out.Duplicates += d
		out.OutOfOrder += o
	}
	out.Resets = s.resets
	return out
}
