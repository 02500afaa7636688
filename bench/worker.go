package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/twinstream/twinstream/transports"
)

// RunWorker runs the worker side of the protocol (see proto.go): it reads
// commands from in and writes messages to out until in ends, a finish has
// been answered, or ctx is cancelled. `loadgen worker` calls it with stdin
// and stdout; tests call it over pipes.
func RunWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	enc := &lockedEncoder{enc: json.NewEncoder(out)}
	cmds := make(chan command)
	readErr := make(chan error, 1)
	go func() { // owner: RunWorker; ends when in ends (the parent closes it) or ctx is done
		defer close(cmds)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			var c command
			if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
				readErr <- fmt.Errorf("bench worker: bad command: %w", err)
				return
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()

	var w *worker
	defer func() {
		if w != nil {
			w.stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c, ok := <-cmds:
			if !ok {
				return <-readErr // stdin closed: the parent is gone or done
			}
			switch c.Op {
			case opStart:
				if w != nil || c.Spec == nil {
					return enc.fail(errors.New("bench worker: start needs a spec, once"))
				}
				var err error
				if w, err = newWorker(ctx, *c.Spec, enc); err != nil {
					return enc.fail(err)
				}
				if c.Spec.CPUProfile != "" {
					stop, err := startCPUProfile(c.Spec.CPUProfile)
					if err != nil {
						return enc.fail(err)
					}
					defer stop()
				}
				w.start()
			case opMark:
				if w != nil {
					w.markNS.Store(c.TNS)
				}
			case opHold:
				if w != nil {
					w.holding.Store(true)
				}
			case opFinish:
				if w == nil {
					return enc.fail(errors.New("bench worker: finish before start"))
				}
				res := w.finish(ctx, c.Windows, c.Drain.D())
				w = nil
				return enc.send(message{Type: msgResult, Result: res})
			default:
				return enc.fail(fmt.Errorf("bench worker: unknown op %q", c.Op))
			}
		}
	}
}

type lockedEncoder struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (e *lockedEncoder) send(m message) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.enc.Encode(m)
}

func (e *lockedEncoder) fail(err error) error {
	_ = e.send(message{Type: msgError, Error: err.Error()})
	return err
}

// worker runs one WorkerSpec's clients.
type worker struct {
	spec    WorkerSpec
	out     *lockedEncoder
	run     clientRunner
	rec     *Recorder
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup // clients, the pacer and the progress loop
	dialSem chan struct{}
	httpTs  []*http.Transport
	lean    *leanPoller // Client lean: runs the connections' receive sides
	// rts, per source address: httpTs[i], or an HTTP/2 pool; wire counts
	// and classifies every connection's bytes (wiredial.go).
	rts  []http.RoundTripper
	wire *wireMeter

	connectMu   sync.Mutex
	connectHist *hdr.Histogram

	failMu      sync.Mutex
	failures    map[string]int
	disconnects map[string]int // connections the server or network ended (clients reconnect)

	clientsMu sync.Mutex
	clients   []*wclient

	attempted, connected, established, failed, settled, back, ended atomic.Int64
	peak, reconnects                                                atomic.Int64
	markNS                                                          atomic.Int64
	holding, finishing                                              atomic.Bool
}

func newWorker(parent context.Context, spec WorkerSpec, out *lockedEncoder) (*worker, error) {
	run, err := runnerFor(spec.Transport)
	if err != nil {
		return nil, err
	}
	if len(spec.Targets) == 0 || len(spec.Streams) == 0 || spec.Count < 0 {
		return nil, errors.New("bench worker: spec needs targets, streams and a count")
	}
	switch spec.Client {
	case "", ClientProduct, ClientLean:
	default:
		return nil, fmt.Errorf("bench worker: unknown client %q (want %q or %q)", spec.Client, ClientProduct, ClientLean)
	}
	if len(spec.Adapters) > 0 && len(spec.Adapters) != len(spec.Targets) {
		return nil, fmt.Errorf("bench worker: %d adapters for %d targets", len(spec.Adapters), len(spec.Targets))
	}
	if spec.MaxDialing <= 0 {
		spec.MaxDialing = 256
	}
	if spec.HandshakeTimeout <= 0 {
		spec.HandshakeTimeout = Duration(30 * time.Second)
	}
	if spec.ProgressEvery <= 0 {
		spec.ProgressEvery = Duration(time.Second)
	}
	ctx, cancel := context.WithCancel(parent)
	w := &worker{
		spec: spec, out: out, run: run, rec: NewRecorder(0), ctx: ctx, cancel: cancel,
		dialSem: make(chan struct{}, spec.MaxDialing), connectHist: NewHist(), failures: map[string]int{},
		disconnects: map[string]int{},
	}
	ips := spec.SourceIPs
	if len(ips) == 0 {
		ips = []string{""}
	}
	w.wire = newWireMeter(spec)
	for _, ip := range ips {
		t, err := newHTTPTransport(ip, spec.HandshakeTimeout.D())
		if err != nil {
			cancel()
			return nil, err
		}
		rt, err := w.wire.instrument(t, ip, spec.HandshakeTimeout.D())
		if err != nil {
			cancel()
			return nil, err
		}
		w.httpTs, w.rts = append(w.httpTs, t), append(w.rts, rt)
	}
	if spec.Client == ClientLean || len(spec.Adapters) > 0 {
		if w.lean, err = newLeanPoller(); err != nil {
			cancel()
			return nil, err
		}
	}
	return w, nil
}

// adapter is how the clients of target speak to it (nil: twinstream).
func (w *worker) adapter(target int) *AdapterSpec {
	if target < 0 || target >= len(w.spec.Adapters) {
		return nil
	}
	return w.spec.Adapters[target]
}

// leanPoller is the poller of the worker's lean clients.
func (w *worker) leanPoller() *leanPoller { return w.lean }

// newHTTPTransport returns a transport whose connections come from the
// local address ip ("" = any). Every stream gets its own connection.
func newHTTPTransport(ip string, timeout time.Duration) (*http.Transport, error) {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	if ip != "" {
		addr := net.ParseIP(ip)
		if addr == nil {
			return nil, fmt.Errorf("bench worker: bad source IP %q", ip)
		}
		d.LocalAddr = &net.TCPAddr{IP: addr}
	}
	return &http.Transport{
		DialContext:           d.DialContext,
		DisableKeepAlives:     true,
		DisableCompression:    true,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   -1,
	}, nil
}

func (w *worker) start() {
	w.wg.Go(w.progressLoop)
	w.wg.Go(w.pace)
}

// pace starts the clients at the spec's connect rate.
func (w *worker) pace() {
	start := time.Now()
	nt, ns := len(w.spec.Targets), len(w.spec.Streams)
	for k := range w.spec.Count {
		if r := w.spec.ConnectRate; r > 0 {
			due := start.Add(time.Duration(float64(k) / r * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-w.ctx.Done():
					return
				}
			}
		}
		if w.ctx.Err() != nil || w.finishing.Load() {
			return
		}
		i := w.spec.First + k
		target, stream := i%nt, (i/nt)%ns
		if w.spec.PinnedStreams {
			stream = i % ns
			target = min(max(w.spec.Streams[stream].Target, 0), nt-1)
		}
		t := w.httpTs[i%len(w.httpTs)]
		c := &wclient{w: w, idx: i, stream: stream, base: w.rts[i%len(w.rts)], dial: t.DialContext,
			sub: w.rec.NewSub(i, target, w.spec.Streams[stream].Topics)}
		c.ctx, c.cancel = context.WithCancel(w.ctx)
		w.clientsMu.Lock()
		w.clients = append(w.clients, c)
		w.clientsMu.Unlock()
		w.attempted.Add(1)
		url := w.spec.Targets[target] + w.spec.Streams[stream].Path
		w.wg.Go(func() { c.runLoop(url) })
	}
}

func (w *worker) progressLoop() {
	t := time.NewTicker(w.spec.ProgressEvery.D())
	defer t.Stop()
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
			if w.finishing.Load() {
				return
			}
			p := w.progress()
			_ = w.out.send(message{Type: msgProgress, Progress: &p})
		}
	}
}

func (w *worker) progress() Progress {
	p := Progress{
		Worker: w.spec.Worker, TNS: time.Now().UnixNano(),
		Attempted: int(w.attempted.Load()), Connected: int(w.connected.Load()),
		Established: int(w.established.Load()), Failed: int(w.failed.Load()),
		Settled: int(w.settled.Load()), Back: int(w.back.Load()), Ended: int(w.ended.Load()),
		Deliveries: w.rec.Deliveries(),
	}
	p.WindowHDR, _ = EncodeHist(w.rec.TakeWindow())
	if self, err := readProc(os.Getpid()); err == nil {
		p.CPUSeconds = self.CPUSeconds
	}
	return p
}

func (w *worker) addFailure(cause string) {
	w.failMu.Lock()
	w.failures[cause]++
	w.failMu.Unlock()
}

func (w *worker) addDisconnect(cause string) {
	w.failMu.Lock()
	w.disconnects[cause]++
	w.failMu.Unlock()
}

func (w *worker) recordConnect(d time.Duration) {
	us := clampMicros(int64(d / time.Microsecond))
	w.connectMu.Lock()
	_ = w.connectHist.RecordValue(us)
	w.connectMu.Unlock()
}

// finish waits until every client has every window's last seq (or drain
// passes), stops the clients and accounts.
func (w *worker) finish(ctx context.Context, windows []Window, drain time.Duration) *WorkerResult {
	deadline := time.Now().Add(drain)
	drained := false
	for {
		drained = w.allReached(windows)
		if drained || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.finishing.Store(true)
	w.stop()

	res := &WorkerResult{
		Worker: w.spec.Worker, Clients: w.spec.Count, Attempted: int(w.attempted.Load()),
		Established: int(w.established.Load()), Peak: int(w.peak.Load()),
		Deliveries: w.rec.Deliveries(), Drained: drained, Failures: map[string]int{},
	}
	if t := w.rec.LastDelivery(); !t.IsZero() {
		res.LastNS = t.UnixNano()
	}
	w.failMu.Lock()
	for k, v := range w.failures {
		res.Failures[k] = v
	}
	if len(w.disconnects) > 0 {
		res.Disconnects = map[string]int{}
		for k, v := range w.disconnects {
			res.Disconnects[k] = v
		}
	}
	w.failMu.Unlock()
	res.Reconnects = int(w.reconnects.Load())
	wire := w.wire.total()
	res.Wire = &wire
	failed := 0
	for _, c := range w.snapshot() {
		if len(windows) > 0 {
			res.Tally.Add(c.sub.Tally(windows))
		} else {
			res.Tally.Add(c.sub.SelfTally())
		}
		if c.failed.Load() {
			failed++
		} else if !c.established.Load() && !c.ended.Load() {
			failed++
			res.Failures["never connected"]++
		}
		if w.markNS.Load() > 0 { // reconnect: when each client came back
			res.BackNS = append(res.BackNS, c.backNS.Load())
		}
		if len(windows) == 0 { // streams that end by themselves: what each saw last
			e, at := c.sub.Last()
			f := Final{Stream: c.stream, Kind: e.Event, Seq: e.Seq, Ended: c.ended.Load()}
			if !at.IsZero() {
				f.AtNS = at.UnixNano()
				f.Data = dataDigest(e.Data)
			}
			if e.Event == transports.KindSnapshot {
				f.Status = dataStatus(e.Data)
			}
			res.Finals = append(res.Finals, f)
		}
	}
	res.Attempted = int(w.attempted.Load())
	res.Failed = failed
	w.connectMu.Lock()
	res.ConnectHDR, _ = EncodeHist(w.connectHist)
	w.connectMu.Unlock()
	res.LatencyHDR, _ = EncodeHist(w.rec.Total())
	res.ScheduleHDR, _ = EncodeHist(w.rec.FromSchedule())
	return res
}

func (w *worker) allReached(windows []Window) bool {
	if len(windows) == 0 {
		// Streams that end by themselves (tasks): wait for every client.
		return int(w.ended.Load()+w.failed.Load()) >= w.spec.Count
	}
	if int(w.attempted.Load()) < w.spec.Count {
		return false
	}
	for _, c := range w.snapshot() {
		for _, win := range windows {
			if c.sub.Follows(win) && !c.sub.Reached(win) {
				return false
			}
		}
	}
	return true
}

func (w *worker) snapshot() []*wclient {
	w.clientsMu.Lock()
	defer w.clientsMu.Unlock()
	return w.clients[:len(w.clients):len(w.clients)]
}

// stop cancels every client and waits for them (bounded).
func (w *worker) stop() {
	w.finishing.Store(true)
	w.cancel()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }() // owner: stop; ends when every client returned
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
	for _, t := range w.httpTs {
		t.CloseIdleConnections()
	}
	w.wire.close()
	if w.lean != nil {
		w.lean.close()
	}
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
