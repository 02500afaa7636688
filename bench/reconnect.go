package bench

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// reconnect: S subscribers and a steady stream; then the server drops
// every connection of the transport at once (admin endpoint), or the
// spawned server restarts (--mode restart). Measures how fast clients come
// back, how the reconnections spread over time, and whether anything was
// lost or duplicated across the resume.
func (r *Runner) reconnect(ctx context.Context, res *Result) error {
	n := r.Config.Clients(ScenarioReconnect)
	for _, transport := range r.Config.Transports {
		if ctx.Err() != nil {
			break
		}
		err := r.withTargets(ctx, res, func(ts []*target) error {
			tr, err := r.reconnectOne(ctx, res, ts, transport, n)
			if tr != nil {
				res.Transports[transport] = tr
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) reconnectOne(ctx context.Context, res *Result, ts []*target, transport string, n int) (*TransportResult, error) {
	c := r.Config
	label := fmt.Sprintf("reconnect %s %d", transport, n)
	topics := topicNames("reconnect", c.Topics)
	ph, err := r.connectAll(ctx, label, ts, transport, r.specs(transport, ts, streamsFor(transport, topics), n, nil), n)
	if err != nil {
		return nil, err
	}
	defer ph.close()
	pub := newTargetPublisher(ts, topics, c.Rate, c.Size)
	pub.cluster = r.cluster // a deployment's nodes: each event through one (cluster.go)
	ph.mu.Lock()
	ph.status = func() string {
		return fmt.Sprintf("back %d  %s", ph.totalsLocked().Back, pub.stats().status())
	}
	ph.mu.Unlock()
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); pub.run(pubCtx, 0) }() // owner: this function; stopped below
	defer func() { stopPub(); <-pubDone }()
	start := time.Now()
	sleepCtx(ctx, c.Settle.D())

	dropped := ph.totals().Connected
	syn0 := readListenDrops()
	for _, t := range ts {
		t.dropPace = c.DropPace.D()
	}
	t0 := time.Now()
	ph.markAll(t0)
	var dropErr error
	if ctx.Err() == nil {
		switch c.ReconnectMode {
		case "restart":
			dropErr = r.restart(ctx, res, ts[0], pub)
		default:
			total := 0
			for _, t := range ts {
				k, err := t.drop(ctx, transport)
				dropErr = cmpErr(dropErr, err)
				total += k
			}
			if dropErr == nil {
				dropped = total
			}
			fmt.Fprintf(r.logw(), "[%s] server dropped %d connections\n", label, total)
		}
	}
	if dropErr == nil {
		ph.waitFor(ctx, 120*time.Second, func(p Progress) bool { return p.Back >= dropped })
		fmt.Fprintf(r.logw(), "[%s] %d of %d back after %.2fs\n", label, ph.totals().Back, dropped, time.Since(t0).Seconds())
		sleepCtx(ctx, c.Settle.D())
	}
	stopPub()
	<-pubDone
	tr, results, err := r.endPublished(ctx, ph, pub, ts, label, start)
	tr.Reconnect = reconnectStats(results, t0, dropped, c.ReconnectMode)
	tr.Reconnect.DropPaceMS = c.DropPace.D().Milliseconds()
	tr.Reconnect.PeakPerS = tr.Reconnect.PeakPer100ms * 10
	if syn1 := readListenDrops(); syn0.ok && syn1.ok {
		tr.Reconnect.ListenOverflows = syn1.overflows - syn0.overflows
		tr.Reconnect.ListenDrops = syn1.drops - syn0.drops
	}
	tr.Reconnect.Lost, tr.Reconnect.Duplicates = tr.Lost, tr.Duplicates
	return tr, cmpErr(dropErr, err)
}

// restart stops the spawned server gracefully and starts it again on the
// same address; events published from then on belong to epoch 1.
func (r *Runner) restart(ctx context.Context, res *Result, t *target, pub *publisher) error {
	old := t.process()
	if old == nil {
		return fmt.Errorf("bench: restart mode needs a spawned server")
	}
	addr := old.addr()
	return pub.pauseFor(func() error {
		if err := old.stop(15 * time.Second); err != nil {
			return err
		}
		proc, err := spawnServer(ctx, r.serverBin, addr, r.serverArgs())
		if err != nil {
			return err
		}
		t.setProcess(proc)
		res.Env.SetServer(proc.pid())
		return nil
	})
}

// reconnectStats turns each client's first connection after the drop into
// percentiles and a 100 ms timeline.
func reconnectStats(results []*WorkerResult, t0 time.Time, dropped int, mode string) *Reconnect {
	rc := &Reconnect{Mode: mode, Dropped: dropped}
	var ms []float64
	for _, w := range results {
		for _, ns := range w.BackNS {
			if ns > 0 {
				ms = append(ms, float64(ns-t0.UnixNano())/1e6)
			}
		}
	}
	slices.Sort(ms)
	rc.Back = len(ms)
	rc.NotBack = max(dropped-rc.Back, 0)
	if len(ms) == 0 {
		return rc
	}
	pct := func(p float64) float64 {
		i := int(p/100*float64(len(ms))+0.999999) - 1
		return round3(ms[min(max(i, 0), len(ms)-1)])
	}
	rc.P50MS, rc.P90MS, rc.P99MS, rc.MaxMS = pct(50), pct(90), pct(99), round3(ms[len(ms)-1])
	buckets := int(ms[len(ms)-1]/100) + 1
	counts := make([]int, buckets)
	for _, v := range ms {
		counts[max(int(v/100), 0)]++
	}
	cum := 0
	for i, k := range counts {
		cum += k
		rc.PeakPer100ms = max(rc.PeakPer100ms, k)
		rc.Timeline = append(rc.Timeline, Bucket{TMS: i * 100, Reconnects: k, BackPct: round3(100 * float64(cum) / float64(max(dropped, rc.Back)))})
	}
	return rc
}
