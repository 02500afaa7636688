package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// A phase is one transport's part of a scenario: its workers, the live
// progress line and the time series.
type phase struct {
	r       *Runner
	label   string
	targets []*target
	handles []*workerHandle
	specs   []WorkerSpec
	msgs    chan message
	start   time.Time

	stopLoop chan struct{}
	loopDone chan struct{}

	mu       sync.Mutex
	latest   map[int]Progress
	window   *hdr.Histogram
	series   []Sample
	results  map[int]*WorkerResult
	errs     []error
	peak     int
	lastDel  uint64
	lastTick time.Time
	lastProc procSample
	maxRSS   int64
	cpuFirst procSample
	cpuLast  procSample
	// The load generator's own CPU: every worker process and this one.
	lgFirst, lgLast, lgPrev  float64
	lgStart, lgEnd, lgPrevAt time.Time
	// The whole machine's busy CPU, to see what else ran.
	sysFirst, sysPrev, sysLast       float64
	sysFirstAt, sysPrevAt, sysLastAt time.Time
	status                           func() string // scenario's extra progress text
	resultCh                         chan struct{}
	// localPID, when set, is a local server process that is not a target
	// (the floor writer), measured from /proc like a spawned server.
	localPID int
}

// startPhase launches one worker per spec and starts them.
func (r *Runner) startPhase(ctx context.Context, label string, targets []*target, specs []WorkerSpec) (*phase, error) {
	p := &phase{
		r: r, label: label, targets: targets, msgs: make(chan message, 64), start: time.Now(),
		stopLoop: make(chan struct{}), loopDone: make(chan struct{}), latest: map[int]Progress{},
		window: NewHist(), results: map[int]*WorkerResult{}, resultCh: make(chan struct{}, 1),
	}
	p.lastTick = p.start
	if s, ok := p.sampleServer(ctx); ok {
		p.cpuFirst, p.lastProc = s, s
		p.series = append(p.series, Sample{ServerRSSBytes: s.RSS}) // the baseline, at t=0
	}
	p.lgFirst, p.lgStart = p.loadgenCPULocked(), p.start
	p.lgPrev, p.lgPrevAt = p.lgFirst, p.start
	if busy, ok := systemCPU(); ok {
		p.sysFirst, p.sysPrev, p.sysLast = busy, busy, busy
		p.sysFirstAt, p.sysPrevAt, p.sysLastAt = p.start, p.start, p.start
	}
	go p.loop(ctx) // owner: the phase; ends in close
	for i, spec := range specs {
		h, err := r.launchWorker(ctx, i, spec.Transport == Floor, p.msgs)
		if err != nil {
			p.close()
			return nil, err
		}
		p.handles = append(p.handles, h)
		spec.Worker = i
		p.specs = append(p.specs, spec)
		if err := h.send(command{Op: opStart, Spec: &spec}); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *phase) loop(ctx context.Context) {
	defer close(p.loopDone)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case m := <-p.msgs:
			p.handle(m)
		case <-tick.C:
			p.tick(ctx)
		case <-p.stopLoop:
			return
		}
	}
}

func (p *phase) handle(m message) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m.Type {
	case msgProgress:
		if m.Progress == nil {
			return
		}
		p.latest[m.worker] = *m.Progress
		if h, err := DecodeHist(m.Progress.WindowHDR); err == nil {
			p.window.Merge(h)
		}
	case msgResult:
		if m.Result != nil {
			p.results[m.worker] = m.Result
		}
		if len(p.results) == len(p.handles) {
			select {
			case p.resultCh <- struct{}{}:
			default:
			}
		}
	case msgError:
		p.errs = append(p.errs, fmt.Errorf("worker %d: %s", m.worker, m.Error))
		select {
		case p.resultCh <- struct{}{}:
		default:
		}
	}
}

// totals sums the workers' latest progress.
func (p *phase) totals() Progress {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.totalsLocked()
}

func (p *phase) totalsLocked() Progress {
	var t Progress
	for _, w := range p.latest {
		t.Attempted += w.Attempted
		t.Connected += w.Connected
		t.Established += w.Established
		t.Failed += w.Failed
		t.Settled += w.Settled
		t.Back += w.Back
		t.Ended += w.Ended
		t.Deliveries += w.Deliveries
	}
	return t
}

// loadgenCPULocked is the load generator's CPU time so far: this process
// plus every worker process (in-process workers are this process).
func (p *phase) loadgenCPULocked() float64 {
	var total float64
	if self, err := readProc(os.Getpid()); err == nil {
		total = self.CPUSeconds
	}
	if p.r != nil && !p.r.Config.InProcess {
		for _, w := range p.latest {
			total += w.CPUSeconds
		}
	}
	return total
}

// loadgenCPUNow is the load generator's CPU time so far, read now from
// /proc for this process and every worker process (a worker whose /proc
// cannot be read counts with its latest progress).
func (p *phase) loadgenCPUNow() float64 {
	var total float64
	if self, err := readProc(os.Getpid()); err == nil {
		total = self.CPUSeconds
	}
	if p.r != nil && p.r.Config.InProcess {
		return total
	}
	p.mu.Lock()
	latest := make(map[int]float64, len(p.latest))
	for k, w := range p.latest {
		latest[k] = w.CPUSeconds
	}
	p.mu.Unlock()
	for _, h := range p.handles {
		if h.cmd != nil && h.cmd.Process != nil {
			if s, err := readProc(h.cmd.Process.Pid); err == nil {
				total += s.CPUSeconds
				continue
			}
		}
		total += latest[h.id]
	}
	return total
}

// setLocalServer makes the phase measure a local process that is not a
// target (the floor writer) as its server.
func (p *phase) setLocalServer(pid int) {
	p.mu.Lock()
	p.localPID = pid
	p.mu.Unlock()
	if s, ok := p.sampleServer(context.Background()); ok {
		p.mu.Lock()
		p.cpuFirst, p.lastProc = s, s
		p.mu.Unlock()
	}
}

// serverPIDs are the local processes of the phase's servers (nil when any
// of them is a --target without one).
func (p *phase) serverPIDs() []int {
	p.mu.Lock()
	local := p.localPID
	p.mu.Unlock()
	if local > 0 {
		return []int{local}
	}
	var out []int
	for _, t := range p.targets {
		proc := t.process()
		if proc == nil {
			return nil
		}
		out = append(out, proc.pid())
	}
	return out
}

// markCosts samples what the per-delivery figures are diffed from (see
// TransportResult.setCosts).
func (p *phase) markCosts(ctx context.Context) costMark {
	var m costMark
	m.server, m.haveServer = p.sampleServer(ctx)
	pids := p.serverPIDs()
	m.haveSyscw = len(pids) > 0
	for _, pid := range pids {
		n, err := readWriteSyscalls(pid)
		if err != nil {
			m.haveSyscw = false
			break
		}
		m.syscw += n
	}
	m.loadgen = p.loadgenCPUNow()
	m.at = time.Now()
	return m
}

// deliveryStall ends waitDelivered early: no delivery for this long means
// the rest is lost (or the drain will say so), and idle time would only
// dilute the per-delivery figures.
const deliveryStall = 5 * time.Second

// waitDelivered waits until the workers report want deliveries, their
// deliveries stall for deliveryStall, timeout passes or ctx ends. It
// returns how long it waited. Workers report once a second, so it returns
// up to a second after the last delivery.
func (p *phase) waitDelivered(ctx context.Context, want uint64, timeout time.Duration) time.Duration {
	start := time.Now()
	last, lastAt := p.totals().Deliveries, start
	for {
		now := time.Now()
		d := p.totals().Deliveries
		if d >= want || ctx.Err() != nil || now.Sub(start) >= timeout {
			break
		}
		if d != last {
			last, lastAt = d, now
		} else if now.Sub(lastAt) >= deliveryStall {
			break
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	return time.Since(start)
}

// expectedDeliveries is how many deliveries the windows ask of the specs'
// clients: each client follows the topics of its stream on its target, as
// worker.pace assigns them (see WorkerSpec).
func expectedDeliveries(specs []WorkerSpec, windows []Window) uint64 {
	var n uint64
	for _, s := range specs {
		nt, ns := len(s.Targets), len(s.Streams)
		if nt == 0 || ns == 0 {
			continue
		}
		for i := s.First; i < s.First+s.Count; i++ {
			target, stream := i%nt, (i/nt)%ns
			if s.PinnedStreams {
				stream = i % ns
				target = min(max(s.Streams[stream].Target, 0), nt-1)
			}
			for _, w := range windows {
				if (w.Target == target || w.Target == AnyTarget) && w.To >= w.From && slices.Contains(s.Streams[stream].Topics, w.Topic) {
					n += w.To - w.From + 1
				}
			}
		}
	}
	return n
}

// sampleServer reads the servers' resource use: /proc for spawned ones
// (and the floor writer), /api/stats for targets. Several targets are summed.
func (p *phase) sampleServer(ctx context.Context) (procSample, bool) {
	p.mu.Lock()
	local := p.localPID
	p.mu.Unlock()
	if local > 0 {
		s, err := readProc(local)
		return s, err == nil
	}
	var sum procSample
	ok, allocs := false, true
	for _, t := range p.targets {
		s, err := t.sample(ctx)
		if err != nil {
			continue
		}
		ok = true
		allocs = allocs && s.Allocs > 0
		sum.At = s.At
		sum.RSS += s.RSS
		sum.CPUSeconds += s.CPUSeconds
		sum.Goroutines += s.Goroutines
		sum.HeapBytes += s.HeapBytes
		sum.StacksBytes += s.StacksBytes
		sum.Allocs += s.Allocs
	}
	if !allocs {
		sum.Allocs = 0 // a server that does not say spoils the sum
	}
	return sum, ok
}

func (p *phase) tick(ctx context.Context) {
	srv, haveSrv := p.sampleServer(ctx)
	p.mu.Lock()
	now := time.Now()
	t := p.totalsLocked()
	dt := now.Sub(p.lastTick).Seconds()
	s := Sample{TS: round3(now.Sub(p.start).Seconds()), Connections: t.Connected, Failed: t.Failed}
	if dt > 0 && t.Deliveries >= p.lastDel {
		s.DeliveriesPerS = round3(float64(t.Deliveries-p.lastDel) / dt)
	}
	p.lastDel, p.lastTick = t.Deliveries, now
	if p.window.TotalCount() > 0 {
		s.P99MS = usToMS(p.window.ValueAtPercentile(99))
	}
	p.window.Reset()
	if haveSrv {
		s.ServerRSSBytes = srv.RSS
		s.ServerCPUPct = cpuPercent(p.lastProc, srv)
		p.lastProc, p.cpuLast = srv, srv
		if srv.RSS > p.maxRSS {
			p.maxRSS = srv.RSS
		}
	}
	p.peak = max(p.peak, t.Connected)
	if busy, ok := systemCPU(); ok && !p.sysPrevAt.IsZero() {
		if dt := now.Sub(p.sysPrevAt).Seconds(); dt > 0 {
			s.SystemCPUPct = round3((busy - p.sysPrev) / dt * 100)
		}
		p.sysPrev, p.sysPrevAt, p.sysLast, p.sysLastAt = busy, now, busy, now
	}
	if len(p.latest) == len(p.handles) { // every worker has reported its CPU
		// Worker processes start with none, so the first delta from the
		// phase's start (this process only) is right too.
		lg := p.loadgenCPULocked()
		if dt := now.Sub(p.lgPrevAt).Seconds(); dt > 0 {
			s.LoadgenCPUPct = round3((lg - p.lgPrev) / dt * 100)
		}
		p.lgPrev, p.lgPrevAt = lg, now
		p.lgLast, p.lgEnd = lg, now
	}
	p.series = append(p.series, s)
	extra := ""
	if p.status != nil {
		extra = "  " + p.status()
	}
	p.mu.Unlock()

	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %4.0fs  conns %d (established %d/%d, failed %d)  %.0f deliveries/s  p99 %.2fms",
		p.label, s.TS, t.Connected, t.Established, t.Attempted, t.Failed, s.DeliveriesPerS, s.P99MS)
	if haveSrv {
		fmt.Fprintf(&b, "  server %.1f MB cpu %.0f%%", float64(srv.RSS)/1e6, s.ServerCPUPct)
	}
	if s.LoadgenCPUPct > 0 {
		fmt.Fprintf(&b, "  loadgen cpu %.0f%%", s.LoadgenCPUPct)
	}
	if s.SystemCPUPct > 0 {
		fmt.Fprintf(&b, "  machine cpu %.0f%%", s.SystemCPUPct)
	}
	fmt.Fprintf(p.r.logw(), "%s%s\n", b.String(), extra)
}

// waitFor polls the totals until cond holds, the timeout passes or ctx
// ends. It reports whether cond held.
func (p *phase) waitFor(ctx context.Context, timeout time.Duration, cond func(Progress) bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond(p.totals()) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// markAll tells every worker that the drop happens at t.
func (p *phase) markAll(t time.Time) {
	for _, h := range p.handles {
		_ = h.send(command{Op: opMark, TNS: t.UnixNano()})
	}
}

func (p *phase) holdAll() {
	for _, h := range p.handles {
		_ = h.send(command{Op: opHold})
	}
}

// finish asks every worker for its account and waits for them all. It
// does not use the run's context: an interrupted run still collects what
// was measured.
func (p *phase) finish(windows []Window, drain time.Duration) ([]*WorkerResult, error) {
	p.tick(context.Background()) // a last sample at the end of the measurement
	for _, h := range p.handles {
		if err := h.send(command{Op: opFinish, Windows: windows, Drain: Duration(drain)}); err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
		}
	}
	deadline := time.After(drain + 60*time.Second)
	for {
		p.mu.Lock()
		n, errs := len(p.results), len(p.errs)
		p.mu.Unlock()
		if n+errs >= len(p.handles) {
			break
		}
		select {
		case <-p.resultCh:
		case <-deadline:
			p.mu.Lock()
			p.errs = append(p.errs, errors.New("some workers sent no result in time"))
			p.mu.Unlock()
			return p.collected()
		}
	}
	return p.collected()
}

func (p *phase) collected() ([]*WorkerResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]int, 0, len(p.results))
	for k := range p.results {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]*WorkerResult, 0, len(keys))
	for _, k := range keys {
		out = append(out, p.results[k])
	}
	return out, errors.Join(p.errs...)
}

// close stops the workers and the progress loop.
func (p *phase) close() {
	var wg sync.WaitGroup
	for _, h := range p.handles {
		wg.Go(func() { h.close(20 * time.Second) })
	}
	wg.Wait()
	close(p.stopLoop)
	<-p.loopDone
}

// merge combines the workers' accounts into a transport result.
func (p *phase) merge(results []*WorkerResult) (*TransportResult, error) {
	tr := &TransportResult{Connections: Connections{Failures: map[string]int{}}}
	lat, sched, conn := NewHist(), NewHist(), NewHist()
	var tally Tally
	var wire WireCount // what the clients' sockets saw (wire.go)
	haveWire := false
	var firstErr error
	workerPeak := 0
	for _, w := range results {
		workerPeak = max(workerPeak, w.Peak)
		for _, pair := range []struct {
			dst *hdr.Histogram
			enc string
		}{{lat, w.LatencyHDR}, {sched, w.ScheduleHDR}, {conn, w.ConnectHDR}} {
			h, err := DecodeHist(pair.enc)
			if err != nil {
				firstErr = cmpErr(firstErr, err)
				continue
			}
			pair.dst.Merge(h)
		}
		tally.Add(w.Tally)
		if w.Wire != nil {
			wire.Add(*w.Wire)
			haveWire = true
		}
		tr.Connections.Attempted += w.Attempted
		tr.Connections.Established += w.Established
		tr.Connections.Failed += w.Failed
		for k, v := range w.Failures {
			tr.Connections.Failures[k] += v
		}
		for k, v := range w.Disconnects {
			if tr.Connections.Disconnects == nil {
				tr.Connections.Disconnects = map[string]int{}
			}
			tr.Connections.Disconnects[k] += v
		}
		tr.Connections.Reconnects += w.Reconnects
	}
	if len(tr.Connections.Failures) == 0 {
		tr.Connections.Failures = nil
	}
	p.mu.Lock()
	// Sampled each second, and at least the busiest worker's exact peak
	// (short streams can open and end between samples).
	tr.Connections.Peak = max(p.peak, workerPeak)
	tr.ServerRSSBeforeBytes = p.cpuFirst.RSS
	tr.Series = append([]Sample(nil), p.series...)
	tr.ServerRSSBytes = p.maxRSS
	tr.ServerCPUPercent = cpuPercent(p.cpuFirst, p.cpuLast)
	if dt := p.lgEnd.Sub(p.lgStart).Seconds(); dt > 0 {
		tr.LoadgenCPUPercent = round3((p.lgLast - p.lgFirst) / dt * 100)
	}
	if dt := p.sysLastAt.Sub(p.sysFirstAt).Seconds(); dt > 0 {
		tr.MachineCPUPercent = round3((p.sysLast - p.sysFirst) / dt * 100)
	}
	tr.ServerGoroutines = p.lastProc.Goroutines
	p.mu.Unlock()
	tr.LatencyMS = PercentilesOf(lat)
	tr.LatencyFromScheduleMS = PercentilesOf(sched)
	tr.ConnectMS = PercentilesOf(conn)
	tr.LatencyCDF = CDF(lat)
	if lat.TotalCount() > 0 {
		tr.LatencyHDR, _ = EncodeHist(lat)
	}
	tr.Expected, tr.Delivered, tr.Lost = tally.Expected, tally.Delivered, tally.Lost
	tr.Duplicates, tr.OutOfOrder, tr.Resets = tally.Duplicates, tally.OutOfOrder, tally.Resets
	tr.CrossNodeDeliveries = tally.CrossNode
	if haveWire {
		tr.Wire = wireResult(wire, tally.Delivered, time.Since(p.start))
	}
	return tr, firstErr
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// logw is where progress goes (never nil).
func (r *Runner) logw() io.Writer {
	if r.Log == nil {
		return io.Discard
	}
	return r.Log
}
