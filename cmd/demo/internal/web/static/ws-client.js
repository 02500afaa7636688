/**
 * WebSocketClient — a small reconnecting WebSocket client for twinstream
 * streams. No dependencies; copy this file into your own project.
 *
 * What it does
 *  - Connects to `url` and parses every text frame as JSON.
 *    Frames with `"type":"event"` are twinstream events
 *    (`{"type":"event","topic":"task:ID","seq":7,"event":"progress","ts":<unix µs>,"data":{...}}`)
 *    and are emitted as "event"; every other frame is a control frame
 *    (ping, pong, error, subscribed, ack, ...) and is emitted as "control".
 *  - Heartbeat: answers the server's app-level `{"type":"ping","ts":T}` with
 *    `{"type":"pong","ts":T}` (browsers cannot see protocol-level pings) and
 *    counts them. With `idleTimeout` set, a connection that receives nothing
 *    for that long is closed and re-opened.
 *  - Reconnects with exponential backoff and jitter: attempt n waits
 *    `min(initial * multiplier^(n-1), max)` minus a random fraction (up to
 *    `jitter`) of it. The attempt counter resets once a connection delivers a
 *    frame, so a server that accepts and immediately closes still backs off.
 *  - Resumes: it remembers the last seq per topic and reconnects with
 *    `last_event_id=<cursor>` in the URL, so the server replays exactly the
 *    missed events (or sends an explicit `"event":"reset"` when they are gone).
 *    `resume: "seq"` sends the bare last seq (single-topic streams such as
 *    /ws/tasks/:id); `resume: "topics"` sends `topic=seq` pairs joined by
 *    commas, sorted (multi-topic streams such as /ws?client_id=alice);
 *    `resume: false` never resumes.
 *  - Close codes: 1000 means the stream is complete (state "ended", no
 *    reconnect); 1008, 1009, 4004 and 4400 are fatal (state "failed", no
 *    reconnect: policy violation, message too big, not found, bad request);
 *    anything else (1001 shutdown, 1006 abnormal, 1012 dropped by server,
 *    1013 try later, 4000 idle, 4008 slow consumer, ...) reconnects.
 *
 * Usage
 *
 *   import { WebSocketClient } from "./ws-client.js";
 *   const c = new WebSocketClient("/ws/tasks/" + id, { resume: "seq", lastSeq: 0 });
 *   c.addEventListener("event", (e) => console.log(e.detail.seq, e.detail.event));
 *   c.addEventListener("state", (e) => console.log("state", e.detail.state));
 *   c.connect();
 *   // later: c.drop() simulates a network drop (it reconnects and resumes),
 *   //        c.close() stops for good.
 *
 * Emitted events (EventTarget; payload in `event.detail`)
 *  - "event":   a decoded wire event; `detail.bytes` is the frame's UTF-8 size
 *  - "control": any other decoded frame (pings included, already answered)
 *  - "state":   `{state, code?, reason?, delay?}` on every state change
 *  - "open":    `{reconnect: boolean, url}` each time a socket opens
 *  - "close":   `{code, reason, wasClean, willReconnect, delay}`
 *
 * States: "idle" → "connecting" → "open" → ("reconnecting" → "connecting" →
 * "open")* → "ended" | "failed" | "closed".
 *
 * @typedef {Object} BackoffOptions
 * @property {number} [initial=250]    first delay, ms
 * @property {number} [max=10000]      delay cap, ms
 * @property {number} [multiplier=2]   growth per attempt
 * @property {number} [jitter=0.5]     random fraction taken off each delay (0..1)
 *
 * @typedef {Object} WebSocketClientOptions
 * @property {"seq"|"topics"|false} [resume="seq"] cursor style sent as last_event_id
 * @property {number} [lastSeq]        start cursor for resume "seq" (e.g. 0 = replay from the start)
 * @property {Object<string,number>} [cursors] start cursors for resume "topics"
 * @property {BackoffOptions} [backoff]
 * @property {number} [idleTimeout=0] ms without any frame before reconnecting (0 = off)
 * @property {number[]} [fatalCodes=[1008,1009,4004,4400]] close codes that stop reconnecting
 */

const DEFAULT_BACKOFF = { initial: 250, max: 10000, multiplier: 2, jitter: 0.5 };
const DEFAULT_FATAL = [1008, 1009, 4004, 4400];
const CLIENT_DROP = 3001; // close code we use for a deliberate client-side drop

/** Number of bytes `s` takes in UTF-8. */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; } // surrogate pair
    else n += 3;
  }
  return n;
}

/** backoffDelay returns the wait (ms) before reconnect attempt n >= 1. */
export function backoffDelay(n, opts = {}) {
  const b = { ...DEFAULT_BACKOFF, ...opts };
  let d = b.initial * Math.pow(b.multiplier, Math.max(0, n - 1));
  d = Math.min(d, b.max);
  return Math.round(d - d * b.jitter * Math.random());
}

export class WebSocketClient extends EventTarget {
  /**
   * @param {string} url  absolute ws(s):// URL or a path on this origin
   * @param {WebSocketClientOptions} [opts]
   */
  constructor(url, opts = {}) {
    super();
    this.url = toWebSocketURL(url);
    this.resume = opts.resume === undefined ? "seq" : opts.resume;
    this.backoff = { ...DEFAULT_BACKOFF, ...(opts.backoff || {}) };
    this.idleTimeout = opts.idleTimeout || 0;
    this.fatalCodes = opts.fatalCodes || DEFAULT_FATAL;
    /** last seq received on a single-topic stream (null: none yet) */
    this.lastSeq = opts.lastSeq ?? null;
    /** last seq received per topic */
    this.cursors = { ...(opts.cursors || {}) };
    this.state = "idle";
    this.stats = { connects: 0, reconnects: 0, heartbeats: 0, events: 0, controls: 0, bytes: 0, wireBytes: 0 };
    this.lastClose = null;
    this._ws = null;
    this._attempt = 0;
    this._timer = 0;
    this._idleTimer = 0;
    this._dropping = false;
    this._stopped = false;
  }

  /** connect opens the first connection. Calling it twice is a no-op. */
  connect() {
    if (this._ws || this._timer || this._stopped) return;
    this._open();
  }

  /**
   * send queues a command (an object, encoded as JSON). It returns false when
   * the socket is not open (the command is not queued across reconnects).
   */
  send(obj) {
    if (!this._ws || this._ws.readyState !== WebSocket.OPEN) return false;
    this._ws.send(JSON.stringify(obj));
    return true;
  }

  /** drop closes the current socket from the client side, like a network
   * drop; the client then reconnects with backoff and resumes. */
  drop() {
    if (!this._ws || this._stopped) return;
    this._dropping = true;
    this._ws.close(CLIENT_DROP, "client drop");
  }

  /** close stops the client for good (state "closed"). */
  close() {
    this._stopped = true;
    clearTimeout(this._timer);
    clearTimeout(this._idleTimer);
    this._timer = 0;
    if (this._ws) this._ws.close(1000, "client closed");
    this._ws = null;
    this._setState("closed");
  }

  /** cursor is the last_event_id value for the next (re)connect, or "". */
  cursor() {
    if (this.resume === "seq") return this.lastSeq === null ? "" : String(this.lastSeq);
    if (this.resume === "topics") {
      return Object.keys(this.cursors).sort().map((t) => `${t}=${this.cursors[t]}`).join(",");
    }
    return "";
  }

  _connectURL() {
    const u = new URL(this.url);
    const c = this.cursor();
    if (c !== "") u.searchParams.set("last_event_id", c);
    else u.searchParams.delete("last_event_id");
    return u.toString();
  }

  _open() {
    this._timer = 0;
    const reconnect = this.stats.connects > 0;
    const url = this._connectURL();
    this._setState("connecting", { url });
    const ws = new WebSocket(url);
    this._ws = ws;
    let gotFrame = false;
    ws.onopen = () => {
      this.stats.connects++;
      if (reconnect) this.stats.reconnects++;
      this._setState("open", { url });
      this._emit("open", { reconnect, url });
      this._armIdle();
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") return; // twinstream only sends text frames
      if (!gotFrame) { gotFrame = true; this._attempt = 0; }
      this._armIdle();
      const size = utf8Length(m.data);
      this.stats.bytes += size;
      this.stats.wireBytes += size + (size < 126 ? 2 : size < 65536 ? 4 : 10);
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type === "event") {
        this.stats.events++;
        if (typeof msg.seq === "number") {
          this.lastSeq = msg.seq;
          if (msg.topic) this.cursors[msg.topic] = msg.seq;
        }
        this._emit("event", { ...msg, bytes: size });
        return;
      }
      this.stats.controls++;
      if (msg.type === "ping") {
        this.stats.heartbeats++;
        this.send({ type: "pong", ts: msg.ts });
      }
      this._emit("control", msg);
    };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      clearTimeout(this._idleTimer);
      const dropped = this._dropping;
      this._dropping = false;
      this.lastClose = { code: ev.code, reason: ev.reason };
      if (this._stopped) return;
      let next = "reconnecting";
      if (!dropped && ev.code === 1000) next = "ended";
      else if (!dropped && this.fatalCodes.includes(ev.code)) next = "failed";
      if (next !== "reconnecting") {
        this._emit("close", { code: ev.code, reason: ev.reason, wasClean: ev.wasClean, willReconnect: false, delay: 0 });
        this._setState(next, { code: ev.code, reason: ev.reason });
        return;
      }
      this._attempt++;
      const delay = backoffDelay(this._attempt, this.backoff);
      const code = dropped ? CLIENT_DROP : ev.code;
      const reason = dropped ? "client drop" : ev.reason;
      this._emit("close", { code, reason, wasClean: ev.wasClean, willReconnect: true, delay });
      this._setState("reconnecting", { code, reason, delay, attempt: this._attempt });
      this._timer = setTimeout(() => this._open(), delay);
    };
  }

  _armIdle() {
    if (!this.idleTimeout) return;
    clearTimeout(this._idleTimer);
    const ws = this._ws;
    this._idleTimer = setTimeout(() => {
      if (this._ws === ws && ws) ws.close(4000, "idle timeout (client)");
    }, this.idleTimeout);
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, ...extra });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** toWebSocketURL turns "/ws/tasks/1" into "ws://host/ws/tasks/1". */
export function toWebSocketURL(url) {
  const u = new URL(url, location.href);
  if (u.protocol === "http:") u.protocol = "ws:";
  if (u.protocol === "https:") u.protocol = "wss:";
  return u.toString();
}
