package bench

import (
	"context"
	"fmt"
	"time"
)

// connect: ramp to N idle connections per transport at the ramp rate, hold
// them, and measure connect times, failures and the server's memory per
// connection. A connection lost at any point is a failure: clients do not
// reconnect in this scenario.
func (r *Runner) connect(ctx context.Context, res *Result) error {
	for _, transport := range r.Config.Transports {
		if ctx.Err() != nil {
			break
		}
		err := r.withTargets(ctx, res, func(ts []*target) error {
			tr, err := r.connectOne(ctx, ts, transport)
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

func (r *Runner) connectOne(ctx context.Context, ts []*target, transport string) (*TransportResult, error) {
	c := r.Config
	n := c.Connections
	label := fmt.Sprintf("connect %s %d", transport, n)
	topics := topicNames("idle", 1)
	// Let the fresh server settle before the baseline.
	sleepCtx(ctx, time.Second)
	specs := r.specs(transport, ts, streamsFor(transport, topics), n, func(s *WorkerSpec) { s.NoReconnect = true })
	ph, err := r.startPhase(ctx, label, ts, specs)
	if err != nil {
		return nil, err
	}
	defer ph.close()
	rampStart := time.Now()
	ph.waitFor(ctx, r.connectTimeout(n), func(p Progress) bool { return p.Settled >= n })
	ramp := time.Since(rampStart)
	fmt.Fprintf(r.logw(), "[%s] ramp done in %.1fs; holding for %s\n", label, ramp.Seconds(), c.Hold.D())
	ph.holdAll()
	holdStart := time.Now()
	sleepCtx(ctx, c.Hold.D())
	held := time.Since(holdStart)
	results, ferr := ph.finish(nil, 0)
	tr, merr := ph.merge(results)
	tr.Connections.HeldS = round3(held.Seconds())
	tr.DurationS = round3(time.Since(rampStart).Seconds())
	tr.Server = serverInfo(ts)
	if n := float64(tr.Connections.Peak); n > 0 && tr.ServerRSSBytes > 0 && tr.ServerRSSBeforeBytes > 0 {
		tr.ServerBytesPerConn = round3(float64(tr.ServerRSSBytes-tr.ServerRSSBeforeBytes) / n)
		ph.mu.Lock()
		before, peak := ph.cpuFirst, ph.atMaxRSS
		ph.mu.Unlock()
		if before.HeapBytes > 0 && peak.HeapBytes > 0 {
			tr.ServerHeapBytesPerConn = round3(float64(peak.HeapBytes-before.HeapBytes) / n)
		}
		if before.Goroutines > 0 && peak.Goroutines > 0 {
			tr.ServerGoroutinesPerConn = round3(float64(peak.Goroutines-before.Goroutines) / n)
		}
	}
	return tr, cmpErr(ferr, merr)
}
