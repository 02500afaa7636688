// Latency bookkeeping and a hand-written sparkline.

/** nowMicros is the wall clock in unix µs with sub-ms precision, comparable
 * with an event's "ts" (the server's publish time in unix µs). */
export function nowMicros() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** Latencies collects delivery latencies (ms) and answers percentiles over
 * the newest `max` samples (default 100,000). */
export class Latencies {
  constructor(max = 100000) {
    this.max = max;
    this.all = [];
    this._sorted = null;
  }
  add(ms) {
    this.all.push(ms);
    if (this.all.length > this.max * 1.1) this.all.splice(0, this.all.length - this.max);
    this._sorted = null;
  }
  get count() { return this.all.length; }
  /** p returns the q-th percentile (0..100, nearest rank) or NaN when empty. */
  p(q) {
    if (this.all.length === 0) return NaN;
    if (!this._sorted) this._sorted = Float64Array.from(this.all).sort();
    const rank = Math.ceil((q / 100) * this._sorted.length);
    return this._sorted[Math.min(this._sorted.length, Math.max(1, rank)) - 1];
  }
  /** last returns the newest n samples. */
  last(n) { return this.all.slice(-n); }
}

/** fmtMs renders a latency in ms. */
export function fmtMs(ms) {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 10) return ms.toFixed(2) + " ms";
  if (ms < 1000) return ms.toFixed(1) + " ms";
  return (ms / 1000).toFixed(2) + " s";
}

/** fmtBytes renders a byte count. */
export function fmtBytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1024 * 1024) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1024 / 1024).toFixed(2) + " MiB";
}

/**
 * drawSparkline draws values (ms) as a line on a canvas, on a log-ish scale
 * so that one reconnect spike does not flatten everything else. p50 and p99
 * are drawn as dashed guides.
 */
export function drawSparkline(canvas, values, { color = "#2563eb", p50 = NaN, p99 = NaN } = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  if (values.length === 0) {
    ctx.fillStyle = "#94a3b8";
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("latency per event appears here", 6, h / 2 + 4);
    return;
  }
  const scale = (v) => Math.log10(1 + Math.max(0, v));
  const max = Math.max(scale(Math.max(...values, p99 || 0)), scale(1));
  const pad = 3;
  const y = (v) => h - pad - (scale(v) / max) * (h - 2 * pad);
  const step = values.length > 1 ? (w - 2 * pad) / (values.length - 1) : 0;

  const guide = (v, label) => {
    if (!Number.isFinite(v)) return;
    ctx.strokeStyle = "#cbd5e1";
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(0, y(v));
    ctx.lineTo(w, y(v));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#64748b";
    ctx.font = "9px system-ui, sans-serif";
    ctx.fillText(label, 4, Math.max(9, Math.min(h - 2, y(v) - 2)));
  };
  guide(p50, "p50");
  guide(p99, "p99");

  ctx.beginPath();
  values.forEach((v, i) => {
    const px = pad + i * step, py = y(v);
    if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
  });
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.stroke();
  ctx.lineTo(pad + (values.length - 1) * step, h);
  ctx.lineTo(pad, h);
  ctx.closePath();
  ctx.globalAlpha = 0.12;
  ctx.fillStyle = color;
  ctx.fill();
  ctx.globalAlpha = 1;
}
