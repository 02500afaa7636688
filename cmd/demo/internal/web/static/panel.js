// Panel: one transport's view of the watched task: progress, connection
// state, counters, latency sparkline, resume verdict and event log.
import { WebSocketClient } from "./ws-client.js";
import { SSEClient } from "./sse-client.js";
import { SeqTracker } from "./seq.js";
import { Latencies, nowMicros, fmtMs, fmtBytes, drawSparkline } from "./stats.js";
import { adminDrop } from "./api.js";

const LOG_MAX = 250;
const SPARK_POINTS = 150;
const TERMINAL = new Set(["completed", "failed"]);

export class Panel {
  /**
   * @param {HTMLElement} root   the cloned panel template
   * @param {"ws"|"sse"} transport
   * @param {{session: {latencies: Latencies, clients: Set<object>}, color: string}} opts
   */
  constructor(root, transport, opts) {
    this.root = root;
    this.transport = transport;
    this.session = opts.session;
    this.color = opts.color;
    this.el = {};
    for (const n of root.querySelectorAll("[data-el]")) this.el[n.dataset.el] = n;
    this.el.title.textContent = transport === "ws" ? "WebSocket" : "SSE";
    this.el.endpoint.textContent = transport === "ws" ? "native WebSocket · WebSocketClient" : "native EventSource";
    this.el.explain.textContent = transport === "ws"
      ? "Drop: ws.close() in the page; WebSocketClient reconnects with exponential backoff + jitter and resumes with ?last_event_id=<last seq>. Kill: POST /api/admin/drop — the server closes the socket with 1012."
      : "Drop: es.close() is final (EventSource never reconnects after it), so the page opens a new one with ?last_event_id=<last id>. Kill: POST /api/admin/drop — the server ends the response; EventSource reconnects itself with Last-Event-ID.";
    this.el.hbnote.textContent = transport === "ws" ? "ping → pong" : "invisible to JS";
    this.el.drop.addEventListener("click", () => this.drop());
    this.el.kill.addEventListener("click", () => this.kill());
    this._dirty = false;
    this._pendingLog = [];
    this._reset(null);
    this.render();
  }

  _reset(taskId) {
    this.taskId = taskId;
    this.client = null;
    this.tracker = new SeqTracker(0);
    this.lat = new Latencies();
    this.status = taskId ? "connecting" : "idle";
    this.progress = 0;
    this.message = taskId ? "" : "start a task or pick one from the list";
    this.terminal = false;
    this.lastNote = "";
    this.el.log.replaceChildren();
    this._pendingLog = [];
  }

  /** watch follows task id from seq 1 (cursor 0), closing any previous stream. */
  watch(taskId) {
    if (this.client) this.client.close();
    this._reset(taskId);
    const c = this.transport === "ws"
      ? new WebSocketClient(`/ws/tasks/${encodeURIComponent(taskId)}`, { resume: "seq", lastSeq: 0, idleTimeout: 60000 })
      : new SSEClient(`/sse/tasks/${encodeURIComponent(taskId)}`, { lastEventId: "0" });
    this.client = c;
    this.session.clients.add(c);
    this.el.endpoint.textContent = `GET /${this.transport}/tasks/${taskId}`;
    const mine = (f) => (e) => { if (this.client === c) f(e.detail); };
    c.addEventListener("event", mine((d) => this._onEvent(d)));
    c.addEventListener("state", mine((d) => this._onState(d)));
    c.addEventListener("control", mine((d) => {
      if (d.type === "error") this._log("sys err", "", "error", `${d.code}: ${d.message}`);
    }));
    c.connect();
    this.touch();
  }

  /** drop closes the connection from the browser side; the client recovers. */
  drop() {
    if (!this.client || this.ended) return;
    this._log("sys warn", "", "drop", this.transport === "ws"
      ? "ws.close() from the page; WebSocketClient reconnects with backoff and ?last_event_id=" + this.client.cursor()
      : "es.close() from the page; a closed EventSource never reconnects, so a new one opens with ?last_event_id=" + this.client.lastEventId);
    this.client.drop();
  }

  /** kill asks the server to drop every connection of this transport. */
  async kill() {
    try {
      const r = await adminDrop(this.transport);
      this._log("sys warn", "", "kill", `POST /api/admin/drop?transport=${this.transport} → ${r.dropped ?? "?"} connection(s) dropped`);
    } catch (err) {
      this._log("sys err", "", "kill", String(err.message || err));
    }
  }

  get ended() { return !!this.client && ["ended", "failed", "closed"].includes(this.client.state); }

  _onEvent(ev) {
    const note = this.tracker.add(ev);
    let latency = NaN;
    if (ev.event !== "snapshot" && ev.event !== "reset" && typeof ev.ts === "number") {
      latency = (nowMicros() - ev.ts) / 1000;
      this.lat.add(latency);
      this.session.latencies.add(latency);
    }
    const d = ev.data || {};
    if (ev.event === "reset") {
      this._log("ev reset", ev.seq, ev.event, note, latency);
      return this.touch();
    }
    if (typeof d.progress === "number") this.progress = d.progress;
    if (d.status) this.status = d.status;
    if (ev.event === "completed") { this.status = "completed"; this.progress = d.progress ?? 100; }
    if (ev.event === "failed") this.status = "failed";
    if (TERMINAL.has(ev.event) || TERMINAL.has(d.status)) this.terminal = true;
    this.message = d.message || d.error || (d.result !== undefined ? summarize(d.result) : "") || this.message;
    const text = d.message || d.error || (d.result !== undefined ? "result " + summarize(d.result) : "");
    this._log(`ev ${ev.event}${note ? " bad" : ""}`, ev.seq, ev.event, note ? `${text} — ${note}` : text, latency);
    this.touch();
  }

  _onState(s) {
    const what = {
      connecting: () => this.client.stats.connects > 0 ? `reconnecting: ${s.url.replace(location.origin, "")}` : `connecting: ${s.url.replace(location.origin, "")}`,
      open: () => this.client.stats.reconnects > 0 ? `reconnected (#${this.client.stats.reconnects}), resuming after seq ${this.tracker.last ?? "–"}` : "connected",
      reconnecting: () => s.code !== undefined
        ? `closed ${s.code}${s.reason ? " " + s.reason : ""}; retry in ${s.delay} ms (attempt ${s.attempt})`
        : s.reason || "reconnecting",
      ended: () => `stream ended${s.code ? ` (close ${s.code}${s.reason ? " " + s.reason : ""})` : " (response ended after the terminal event)"}`,
      failed: () => `stopped: ${s.code ? `close ${s.code} ${s.reason || ""}` : s.reason || ""}`,
      closed: () => "",
    }[s.state];
    const text = what ? what() : s.state;
    if (text) this._log(`sys ${s.state === "failed" ? "err" : s.state === "reconnecting" ? "warn" : ""}`, "", s.state, text);
    this.touch();
  }

  _log(cls, seq, kind, text, latency = NaN) {
    this._pendingLog.push({ cls, seq, kind, text, latency });
    // A hidden tab gets no animation frames: keep only what the log can show.
    if (this._pendingLog.length > LOG_MAX) this._pendingLog.splice(0, this._pendingLog.length - LOG_MAX);
    this.touch();
  }

  /** verdict is the resume verdict shown prominently on the panel. */
  verdict() {
    const t = this.tracker;
    const rc = this.client ? this.client.stats.reconnects : 0;
    if (t.resets.length) {
      const r = t.resets[t.resets.length - 1];
      const lost = r.lost_from <= r.lost_to ? ` (seq ${r.lost_from}–${r.lost_to})` : ` (${r.reason})`;
      return { cls: "bad", text: `reset: history lost${lost}` };
    }
    if (t.missing) return { cls: "bad", text: `${t.missing} missing` + (t.dups ? `, ${t.dups} duplicated` : "") };
    if (t.dups) return { cls: "bad", text: `${t.dups} duplicated` };
    if (!this.taskId) return { cls: "idle", text: "no task" };
    const done = this.ended && this.terminal;
    if (rc > 0) return { cls: "good", text: `resumed ×${rc}, 0 lost` + (done ? " — complete" : "") };
    if (done) return { cls: "good", text: "complete, 0 lost" };
    if (this.client && this.client.state === "failed") return { cls: "bad", text: "stream failed" };
    return { cls: "idle", text: t.seqs.length ? "live, contiguous" : "waiting for events" };
  }

  touch() {
    if (this._dirty) return;
    this._dirty = true;
    requestAnimationFrame(() => { this._dirty = false; this.render(); });
  }

  render() {
    const el = this.el, c = this.client, st = c ? c.stats : { reconnects: 0, heartbeats: 0, events: 0, bytes: 0, wireBytes: 0 };
    el.task.textContent = this.taskId ? `task ${this.taskId}` : "no task";
    el.bar.style.width = `${Math.max(0, Math.min(100, this.progress))}%`;
    el.bar.className = `bar-fill ${this.status}`;
    el.pct.textContent = `${Math.round(this.progress)}%`;
    el.status.textContent = this.status;
    el.status.className = `status ${this.status}`;
    el.message.textContent = this.message;
    const state = c ? c.state : "idle";
    el.state.textContent = state;
    el.state.className = `pill state-${state}`;
    el.reconnects.textContent = st.reconnects;
    el.heartbeats.textContent = this.transport === "sse" ? "–" : st.heartbeats;
    el.events.textContent = st.events;
    el.bytes.textContent = fmtBytes(st.bytes);
    el.wire.textContent = "≈ " + fmtBytes(st.wireBytes) + " wire";
    el.p50.textContent = fmtMs(this.lat.p(50));
    el.p99.textContent = fmtMs(this.lat.p(99));
    const last = this.lat.all[this.lat.all.length - 1];
    el.last.textContent = fmtMs(last);
    const v = this.verdict();
    el.verdict.textContent = v.text;
    el.verdict.className = `verdict ${v.cls}`;
    el.seqinfo.textContent = this.tracker.seqs.length
      ? `seq ${this.tracker.seqs[0]}…${this.tracker.last} · ${this.tracker.missing} missing · ${this.tracker.dups} doubled`
      : "";
    drawSparkline(el.spark, this.lat.last(SPARK_POINTS), { color: this.color, p50: this.lat.p(50), p99: this.lat.p(99) });
    el.drop.disabled = el.kill.disabled = !c || this.ended;
    this._flushLog();
  }

  _flushLog() {
    if (!this._pendingLog.length) return;
    const frag = document.createDocumentFragment();
    for (const e of this._pendingLog.reverse()) {
      const row = document.createElement("div");
      row.className = `row ${e.cls}`;
      row.append(cell("seq", e.seq), cell("kind", e.kind), cell("msg", e.text), cell("lat", Number.isFinite(e.latency) ? fmtMs(e.latency) : ""));
      frag.append(row);
    }
    this._pendingLog = [];
    this.el.log.prepend(frag);
    while (this.el.log.childElementCount > LOG_MAX) this.el.log.lastElementChild.remove();
  }

  /** debug is a plain snapshot for window.__twinstream (tests read it). */
  debug() {
    const c = this.client, t = this.tracker;
    return {
      task: this.taskId, state: c ? c.state : "idle", status: this.status, progress: this.progress,
      terminal: this.terminal, ended: this.ended, seqs: t.seqs.slice(), last: t.last,
      missing: t.missing, dups: t.dups, resets: t.resets.length, verdict: this.verdict().text,
      stats: c ? { ...c.stats } : null, p50: this.lat.p(50), p99: this.lat.p(99),
    };
  }
}

function cell(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

function summarize(v) {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 80 ? s.slice(0, 77) + "…" : s;
}
