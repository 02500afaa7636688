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
	return r.eachTransport(ctx, res, r.connectOne)
}

// eachTransport runs one transport's part of a scenario per configured
// transport, one after the other, each against its targets (a fresh
// spawned server unless --target was given), and stores what it measured.
func (r *Runner) eachTransport(ctx context.Context, res *Result, one func(ctx context.Context, ts []*target, transport string) (*TransportResult, error)) error {
	for _, transport := range r.Config.Transports {
		if ctx.Err() != nil {
			break
		}
		err := r.withTargets(ctx, res, func(ts []*target) error {
			tr, err := one(ctx, ts, transport)
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
	specs := r.specs(transport, ts, streamsFor(transport, topics), n, func(s *WorkerSpec) { leanClients(s); s.NoReconnect = true })
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
	atStart, haveStart := ph.sampleServer(context.WithoutCancel(ctx))
	sleepCtx(ctx, c.Hold.D())
	held := time.Since(holdStart)
	// The per-connection figures come from a sample taken now, every
	// connection still open. (The phase's highest-RSS sample may fall in
	// the teardown after finish, when the server's RSS still grows while
	// it closes the connections and their goroutines are already gone.)
	atHold, haveHold := ph.sampleServer(context.WithoutCancel(ctx))
	open := ph.totals().Connected
	results, ferr := ph.finish(nil, 0)
	tr, merr := ph.merge(results)
	tr.Connections.HeldS = round3(held.Seconds())
	tr.DurationS = round3(time.Since(rampStart).Seconds())
	tr.Server = serverInfo(ts)
	ph.mu.Lock()
	before := ph.cpuFirst
	ph.mu.Unlock()
	perConn(tr, before, atHold, haveHold, open)
	if haveStart && haveHold {
		tr.ServerRSSHold = holdRSS(atStart, atHold, open)
	}
	return tr, cmpErr(ferr, merr)
}

// holdRSS is the server's RSS at the start and at the end of the hold,
// and the growth per connection open at the end (nil without RSS figures).
func holdRSS(start, end procSample, open int) *HoldRSS {
	if start.RSS <= 0 || end.RSS <= 0 {
		return nil
	}
	h := &HoldRSS{StartBytes: start.RSS, EndBytes: end.RSS}
	if open > 0 {
		h.GrowthBytesPerConn = round3(float64(end.RSS-start.RSS) / float64(open))
	}
	return h
}

// perConn sets the server's memory (RSS, Go heap, goroutine stacks) and
// goroutines per connection from a sample taken before the clients
// connected and one taken with open connections held.
func perConn(tr *TransportResult, before, held procSample, ok bool, open int) {
	if !ok || open <= 0 {
		return
	}
	n := float64(open)
	if before.RSS > 0 && held.RSS > 0 {
		tr.ServerBytesPerConn = round3(float64(held.RSS-before.RSS) / n)
	}
	if before.HeapBytes > 0 && held.HeapBytes > 0 {
		tr.ServerHeapBytesPerConn = round3(float64(held.HeapBytes-before.HeapBytes) / n)
	}
	if before.StacksBytes > 0 && held.StacksBytes > 0 {
		tr.ServerStacksBytesPerConn = round3(float64(held.StacksBytes-before.StacksBytes) / n)
	}
	if before.Goroutines > 0 && held.Goroutines > 0 {
		tr.ServerGoroutinesPerConn = round3(float64(held.Goroutines-before.Goroutines) / n)
	}
}
