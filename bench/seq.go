package bench

// SeqTracker follows the sequence numbers one subscriber receives on one
// topic. It keeps the lowest and highest seq seen and the gaps between them,
// so it uses memory only for missing ranges: an in-order stream costs a few
// words however long it runs.
//
// A SeqTracker is not safe for concurrent use; each client owns its own.
type SeqTracker struct {
	started bool
	lo, hi  uint64
	gaps    []span // missing seqs in (lo, hi), sorted, disjoint, inclusive
	dups    uint64
	ooo     uint64
	resets  uint64
	seen    uint64 // unique seqs received
}

type span struct{ from, to uint64 }

// Verdict classifies one received seq.
type Verdict int

// Verdicts returned by Observe.
const (
	InOrder   Verdict = iota // the next seq (or the first one)
	Gap                      // ahead of the next seq: some seqs are missing (so far)
	Late                     // fills an earlier gap: delivered out of order
	Duplicate                // already received
)

func (v Verdict) String() string {
	return [...]string{"in_order", "gap", "late", "duplicate"}[v]
}

// Observe records seq and says how it relates to what came before.
func (t *SeqTracker) Observe(seq uint64) Verdict {
	switch {
	case !t.started:
		t.started, t.lo, t.hi = true, seq, seq
		t.seen++
		return InOrder
	case seq == t.hi+1:
		t.hi = seq
		t.seen++
		return InOrder
	case seq > t.hi:
		t.gaps = append(t.gaps, span{t.hi + 1, seq - 1})
		t.hi = seq
		t.seen++
		return Gap
	case seq < t.lo:
		if seq+1 < t.lo {
			t.gaps = append([]span{{seq + 1, t.lo - 1}}, t.gaps...)
		}
		t.lo = seq
		t.ooo++
		t.seen++
		return Late
	}
	for i, g := range t.gaps {
		if seq < g.from {
			break
		}
		if seq > g.to {
			continue
		}
		switch {
		case g.from == g.to:
			t.gaps = append(t.gaps[:i], t.gaps[i+1:]...)
		case seq == g.from:
			t.gaps[i].from++
		case seq == g.to:
			t.gaps[i].to--
		default:
			t.gaps = append(t.gaps, span{})
			copy(t.gaps[i+2:], t.gaps[i+1:])
			t.gaps[i] = span{g.from, seq - 1}
			t.gaps[i+1] = span{seq + 1, g.to}
		}
		t.ooo++
		t.seen++
		return Late
	}
	t.dups++
	return Duplicate
}

// NoteReset records that the server sent a reset event (the client's cursor
// fell out of history or was ahead of the topic).
func (t *SeqTracker) NoteReset() { t.resets++ }

// Received counts the distinct seqs received in [from, to].
func (t *SeqTracker) Received(from, to uint64) uint64 {
	if !t.started || from > to {
		return 0
	}
	lo, hi := max(from, t.lo), min(to, t.hi)
	if lo > hi {
		return 0
	}
	n := hi - lo + 1
	for _, g := range t.gaps {
		a, b := max(g.from, lo), min(g.to, hi)
		if a <= b {
			n -= b - a + 1
		}
	}
	return n
}

// Seen reports whether any seq was received, and the highest one.
func (t *SeqTracker) Seen() (hi uint64, ok bool) { return t.hi, t.started }

// Lowest is the lowest seq received (0 if none).
func (t *SeqTracker) Lowest() uint64 { return t.lo }

// Counts returns the duplicates, out-of-order arrivals and resets so far.
func (t *SeqTracker) Counts() (dups, outOfOrder, resets uint64) { return t.dups, t.ooo, t.resets }

// Unique is the number of distinct seqs received.
func (t *SeqTracker) Unique() uint64 { return t.seen }

// Missing returns the number of seqs missing between the lowest and highest
// received.
func (t *SeqTracker) Missing() uint64 {
	var n uint64
	for _, g := range t.gaps {
		n += g.to - g.from + 1
	}
	return n
}
