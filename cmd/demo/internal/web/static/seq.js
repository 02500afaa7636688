// SeqTracker checks that one topic's events arrive with contiguous seq:
// every seq exactly once, in order. It understands the two events that
// legitimately move the cursor: "snapshot" (the state as of its seq: it
// covers everything up to it) and "reset" (history was lost: the server says
// which seqs are gone, and that loss is recorded, never hidden).

export class SeqTracker {
  /** @param {number|null} start the cursor the stream was opened with (0 = from the start, null = live) */
  constructor(start = null) {
    this.last = start;
    this.seqs = [];      // seq of every event received (snapshot included, reset excluded)
    this.missing = 0;    // seqs skipped without a reset or snapshot explaining them
    this.dups = 0;       // seqs received twice or out of order
    this.gaps = [];      // [{from, to}] unexplained gaps
    this.resets = [];    // reset data as sent by the server
    this.covered = 0;    // seqs covered by a snapshot instead of being received
  }

  /** add records ev and returns a short note when it is not simply the next seq. */
  add(ev) {
    const s = ev.seq;
    if (ev.event === "reset") {
      this.resets.push(ev.data || {});
      this.last = s;
      const d = ev.data || {};
      return d.lost_from <= d.lost_to
        ? `reset: seq ${d.lost_from}–${d.lost_to} lost (${d.reason})`
        : `reset: ${d.reason}`;
    }
    if (ev.event === "snapshot") {
      this.seqs.push(s);
      if (this.last !== null && s < this.last) {
        this.dups++;
        return `stale snapshot ${s} after ${this.last}`;
      }
      const note = this.last !== null && s > this.last + 1 ? `snapshot covers ${this.last + 1}–${s}` : "";
      if (this.last !== null && s > this.last) this.covered += s - this.last - 1;
      this.last = s;
      return note;
    }
    this.seqs.push(s);
    if (this.last === null) {
      this.last = s;
      return "";
    }
    if (s <= this.last) {
      this.dups++;
      return `duplicate/out of order: ${s} after ${this.last}`;
    }
    let note = "";
    if (s > this.last + 1) {
      this.missing += s - this.last - 1;
      this.gaps.push({ from: this.last + 1, to: s - 1 });
      note = `gap: ${this.last + 1}–${s - 1} missing`;
    }
    this.last = s;
    return note;
  }

  /** ok reports whether every seq so far arrived exactly once, in order. */
  get ok() { return this.missing === 0 && this.dups === 0 && this.resets.length === 0; }
}
