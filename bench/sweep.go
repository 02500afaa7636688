package bench

import (
	"context"
	"fmt"
	"time"
)

// sweep: the saturation sweep. For each transport (on one fresh spawned
// server kept for all its steps, or the --target servers) and for the
// floor, fanout at Subscribers[0] subscribers with the rate rising step by
// step (Config.SweepRates), each step a full fanout measurement of
// Duration with its own connections, until a step misses the limit (p99
// latency from schedule above SweepP99, or fewer deliveries than
// expected). The highest step that met it gives the transport's
// sustained deliveries/s (Result.Saturation).
func (r *Runner) sweep(ctx context.Context, res *Result) error {
	c := r.Config
	n, rates := c.Subscribers[0], c.SweepRates()
	steps := make([]SweepStep, len(rates))
	for i, rate := range rates {
		steps[i] = SweepStep{Subscribers: n, Rate: rate, Transports: map[string]*TransportResult{}}
	}
	stepOf := func(i int) fanoutStep {
		return fanoutStep{n: n, rate: rates[i], label: fmt.Sprintf("sweep %%s %d × %g/s", n, rates[i]),
			name: fmt.Sprintf("%geps", rates[i])}
	}
	res.Saturation = map[string]*Saturation{}
	best := map[string]*TransportResult{}
	// climb runs one instrument's steps until one misses the limit.
	climb := func(name string, one func(fanoutStep) (*TransportResult, error)) error {
		sat := &Saturation{Subscribers: n}
		res.Saturation[name] = sat
		for i := range rates {
			if ctx.Err() != nil {
				sat.StoppedBecause = "interrupted"
				return nil
			}
			tr, err := one(stepOf(i))
			if tr != nil {
				sat.Steps++
				if name == Floor {
					steps[i].Floor = tr
				} else {
					steps[i].Transports[name] = tr
				}
				if best[name] == nil {
					best[name] = tr // the first step stands in until one meets the limit
				}
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				sat.StoppedBecause = "interrupted"
				return nil
			}
			if why := missesLimit(tr, c.SweepP99.D()); why != "" {
				sat.FailedRate, sat.StoppedBecause = rates[i], why
				return nil
			}
			sat.MaxSustainedDeliveriesPerS, sat.SustainedRate = tr.DeliveriesPerS, rates[i]
			best[name] = tr
		}
		sat.StoppedBecause = fmt.Sprintf("every rate up to --sweep-max %g events/s met the limit", rates[len(rates)-1])
		return nil
	}
	var err error
	for _, transport := range c.Transports {
		if ctx.Err() != nil {
			break
		}
		err = r.withTargets(ctx, res, func(ts []*target) error {
			return climb(transport, func(st fanoutStep) (*TransportResult, error) { return r.fanoutOne(ctx, ts, transport, st) })
		})
		if err != nil {
			break
		}
	}
	if err == nil && !c.NoFloor && ctx.Err() == nil {
		if err = climb(Floor, func(st fanoutStep) (*TransportResult, error) { return r.floorOne(ctx, st) }); err != nil {
			err = fmt.Errorf("floor: %w", err)
		}
	}
	for i := range steps {
		if steps[i].Floor != nil {
			setVsFloor(steps[i].Transports, steps[i].Floor)
		}
		if len(steps[i].Transports) > 0 || steps[i].Floor != nil {
			res.Sweep = append(res.Sweep, steps[i].compact())
		}
	}
	for name, tr := range best {
		if name == Floor {
			res.Floor = tr
		} else {
			res.Transports[name] = tr
		}
	}
	return err
}

// missesLimit says why a sweep step did not sustain its rate ("" when it
// did): nothing measured, fewer deliveries than expected, failed
// publishes, or p99 latency from the publisher's schedule above limit.
func missesLimit(tr *TransportResult, limit time.Duration) string {
	switch {
	case tr == nil || tr.Expected == 0:
		return "nothing was expected (no event published?)"
	case tr.Lost > 0 || tr.Delivered < tr.Expected:
		return fmt.Sprintf("%d of %d deliveries missing", tr.Expected-min(tr.Delivered, tr.Expected), tr.Expected)
	case tr.Publisher != nil && tr.Publisher.Errors > 0:
		return fmt.Sprintf("%d publish requests failed", tr.Publisher.Errors)
	case tr.LatencyFromScheduleMS.P99 > float64(limit)/float64(time.Millisecond):
		return fmt.Sprintf("p99 latency from schedule %.0f ms > %s", tr.LatencyFromScheduleMS.P99, limit)
	}
	return ""
}
