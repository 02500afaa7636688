package bench

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// fanout: S subscribers per transport spread over K topics; an open-loop
// publisher sends R events/s of B bytes to each topic for D; every
// subscriber must receive every event once, in order.
func (r *Runner) fanout(ctx context.Context, res *Result) error {
	c := r.Config
	for _, n := range c.Subscribers {
		st := fanoutStep{n: n, rate: c.Rate, label: fmt.Sprintf("fanout %%s %d", n)}
		if len(c.Subscribers) > 1 {
			st.name = strconv.Itoa(n)
		}
		step := SweepStep{Subscribers: n, Rate: c.Rate, Transports: map[string]*TransportResult{}}
		for _, transport := range c.legNames() { // ws, sse, sse-h2, ws-deflate… (legs.go)
			if ctx.Err() != nil {
				break
			}
			err := r.withTargets(ctx, res, func(ts []*target) error {
				tr, err := r.fanoutOne(ctx, ts, transport, st)
				if tr != nil {
					step.Transports[transport] = tr
				}
				return err
			})
			if err != nil {
				res.Transports = step.Transports
				return err
			}
		}
		if !c.NoFloor && ctx.Err() == nil {
			floor, err := r.floorOne(ctx, st)
			if err != nil {
				res.Transports = step.Transports
				return fmt.Errorf("floor: %w", err)
			}
			step.Floor = floor
			setVsFloor(step.Transports, floor)
		}
		res.Transports, res.Floor = step.Transports, step.Floor
		if len(c.Subscribers) > 1 {
			res.Sweep = append(res.Sweep, step.compact())
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil
}

// compact drops a step's bulky fields (series, histograms) for the sweep.
func (s SweepStep) compact() SweepStep {
	out := SweepStep{Subscribers: s.Subscribers, Rate: s.Rate, Transports: map[string]*TransportResult{}}
	for k, v := range s.Transports {
		out.Transports[k] = v.compact()
	}
	out.Floor = s.Floor.compact()
	return out
}

// compact is a copy without the bulky fields (series, histogram); nil
// stays nil.
func (tr *TransportResult) compact() *TransportResult {
	if tr == nil {
		return nil
	}
	cp := *tr
	cp.Series, cp.LatencyHDR = nil, ""
	return &cp
}

// topicNames names K topics of one run.
func topicNames(prefix string, k int) []string {
	id := runID()
	out := make([]string, k)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%s-%d", prefix, id, i)
	}
	return out
}

func streamsFor(transport string, topics []string) []StreamSpec {
	out := make([]StreamSpec, len(topics))
	for i, t := range topics {
		out[i] = StreamSpec{Path: streamPath(transport, t), Topics: []string{t}}
	}
	return out
}

// connectTimeout is how long a ramp of n connections may take.
func (r *Runner) connectTimeout(n int) time.Duration {
	d := 60 * time.Second
	if r.Config.RampRate > 0 {
		d += time.Duration(float64(n) / r.Config.RampRate * float64(time.Second) * 2)
	}
	return d
}

func serverInfo(ts []*target) *Server {
	if len(ts) == 0 {
		return nil
	}
	t := ts[0]
	s := &Server{URL: t.url, Kind: t.kind(), Name: t.name()}
	if p := t.process(); p != nil {
		s.PID, s.Bin, s.Args, s.Affinity, s.Version = p.pid(), p.bin, p.args, Affinity(p.pid()), p.version
	}
	return s
}

// connectAll starts a phase and waits until every client settled and the
// server holds them.
func (r *Runner) connectAll(ctx context.Context, label string, ts []*target, transport string, specs []WorkerSpec, n int) (*phase, error) {
	ph, err := r.startPhase(ctx, label, ts, specs)
	if err != nil {
		return nil, err
	}
	if !ph.waitFor(ctx, r.connectTimeout(n), func(p Progress) bool { return p.Settled >= n }) && ctx.Err() == nil {
		fmt.Fprintf(r.logw(), "[%s] not every client connected in time; measuring those that did\n", label)
	}
	est := ph.totals().Established
	if ctx.Err() == nil && !settleServer(ctx, ts, transport, est, 15*time.Second) {
		fmt.Fprintf(r.logw(), "[%s] the server's /api/stats does not confirm %d %s connections; going on\n", label, est, transport)
	}
	sleepCtx(ctx, 200*time.Millisecond)
	return ph, nil
}

// fanoutStep is the workload of one fanout measurement: n subscribers per
// transport, rate events/s per topic for the configured duration.
type fanoutStep struct {
	n    int
	rate float64
	// label is the progress label, with %s for the transport; name tells
	// the steps of a multi-step run apart ("" for a single step) in
	// profile file names.
	label, name string
}

// fanoutOne runs one fanout measurement of a transport.
func (r *Runner) fanoutOne(ctx context.Context, ts []*target, transport string, st fanoutStep) (*TransportResult, error) {
	c := r.Config
	n, rate := st.n, st.rate
	label := fmt.Sprintf(st.label, transport)
	topics := topicNames("fanout", c.Topics)
	lg := legOf(transport) // a transport, its HTTP version and compression (legs.go)
	ph, err := r.connectAll(ctx, label, ts, lg.transport, r.specs(lg.transport, ts, streamsFor(lg.transport, topics), n, lg.clients(leanClients, c.TLS())), n)
	if err != nil {
		return nil, err
	}
	defer ph.close()
	pub := newTargetPublisher(ts, topics, rate, c.Size)
	pub.payload, pub.cluster = c.Payload, r.cluster
	ph.mu.Lock()
	ph.status = func() string { return pub.stats().status() }
	ph.mu.Unlock()
	var prof <-chan error
	if c.ServerCPUProfile != "" && ctx.Err() == nil {
		prof = startServerProfile(ctx, ts, c.ProfilePath(transport, st.name), c.Duration.D())
	}
	mark := ph.markCosts(ctx)
	start := time.Now()
	if ctx.Err() == nil {
		pub.run(ctx, c.Duration.D())
	}
	tr, _, err := r.endMeasured(ctx, ph, pub, ts, label, start, &mark)
	legResult(tr, n)
	if prof != nil {
		if perr := <-prof; perr != nil {
			fmt.Fprintf(r.logw(), "[%s] server CPU profile: %v\n", label, perr)
		}
	}
	return tr, err
}

// endPublished ends a phase that had a publisher: it waits up to the
// configured drain for the last deliveries (none once ctx is cancelled),
// merges the workers' results and fills in the publisher, server, duration
// and throughput figures.
func (r *Runner) endPublished(ctx context.Context, ph *phase, pub *publisher, ts []*target, label string, start time.Time) (*TransportResult, []*WorkerResult, error) {
	return r.endMeasured(ctx, ph, pub, ts, label, start, nil)
}

// endMeasured is endPublished that, given costs (the mark taken before the
// first publish), also sets the per-delivery figures, from a second mark
// taken once every expected delivery was reported (or they stalled, or the
// drain passed), before the clients disconnect.
func (r *Runner) endMeasured(ctx context.Context, ph *phase, pub *publisher, ts []*target, label string, start time.Time, costs *costMark) (*TransportResult, []*WorkerResult, error) {
	drain := r.Config.Drain.D()
	if ctx.Err() != nil {
		drain = 0
	}
	windows := pub.Windows()
	var after costMark
	if costs != nil {
		drain = max(drain-ph.waitDelivered(ctx, expectedDeliveries(ph.specs, windows), drain), 0)
		after = ph.markCosts(context.WithoutCancel(ctx))
	}
	results, ferr := ph.finish(windows, drain)
	tr, merr := ph.merge(results)
	if costs != nil {
		tr.setCosts(*costs, after)
	}
	tr.Publisher = pub.stats()
	tr.Publisher.report(r.logw(), label)
	tr.Server = serverInfo(ts)
	end := lastDelivery(results, start)
	tr.DurationS = round3(end.Sub(start).Seconds())
	if tr.DurationS > 0 {
		tr.DeliveriesPerS = round3(float64(tr.Delivered) / tr.DurationS)
	}
	return tr, results, cmpErr(ferr, merr)
}

func lastDelivery(results []*WorkerResult, start time.Time) time.Time {
	end := start
	for _, w := range results {
		if t := time.Unix(0, w.LastNS); w.LastNS > 0 && t.After(end) {
			end = t
		}
	}
	if end.Equal(start) {
		end = time.Now()
	}
	return end
}

// leanClients makes a worker run the lean subscriber clients (lean.go):
// fanout and connect measure the server, so their clients cost as little
// as they can while still checking every delivery. Reconnect and tasks keep
// the product's Go clients, whose behaviour is what they measure.
func leanClients(s *WorkerSpec) { s.Client = ClientLean }
