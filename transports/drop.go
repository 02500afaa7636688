package transports

import (
	"context"
	"time"
)

// dropBatches is how many batches DropPaced spreads a drop over.
const dropBatches = 20

// DropPaced kicks every connection of a transport ("" for all) with
// ReasonDropped, as DropAll does, but in batches spread evenly over pace,
// so that the clients do not all come back in the same instant (a paced
// drain, as a rolling deploy does). It returns how many it kicked, after
// the last batch, or early when ctx ends (the rest are not kicked).
// pace <= 0 kicks them all at once.
func (h *Hub) DropPaced(ctx context.Context, transport string, pace time.Duration) int {
	if pace <= 0 {
		return h.DropAll(transport)
	}
	victims := h.subscribersOf(transport)
	per := (len(victims) + dropBatches - 1) / dropBatches
	tick := time.NewTicker(pace / dropBatches)
	defer tick.Stop()
	n := 0
	for len(victims) > 0 {
		k := min(per, len(victims))
		for _, s := range victims[:k] {
			s.Kick(ReasonDropped)
		}
		n += k
		victims = victims[k:]
		if len(victims) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
	}
	return n
}
