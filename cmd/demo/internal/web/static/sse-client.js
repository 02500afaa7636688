/**
 * SSEClient — a thin wrapper around the browser's native EventSource that
 * exposes the same events and stats as WebSocketClient, so the demo can put
 * both transports side by side.
 *
 * It deliberately adds no reconnect logic of its own: EventSource already
 * reconnects after the server's `retry:` delay and sends the last `id:` it
 * saw as the Last-Event-ID header, and twinstream's server resumes from it.
 * Two cases need help, both handled here:
 *  - A stream that ended normally (a task's terminal event) is followed by a
 *    reconnect that the server answers with 204 No Content, which makes
 *    EventSource stop (readyState CLOSED). Once a terminal event was seen,
 *    any error is reported as "ended" and the source is closed right away.
 *  - A client-side close (es.close(), the "drop connection" button) is
 *    final for an EventSource: it never reconnects by itself. drop() closes
 *    it and opens a new EventSource whose URL carries
 *    `?last_event_id=<last id>` (a fresh EventSource cannot set the
 *    Last-Event-ID header), which the server treats the same way.
 *
 * What counts as terminal is `opts.isTerminal(msg)`; by default a
 * "completed" or "failed" event, or a "snapshot" whose data.status is one
 * of those (a finished task's stream after a reset is just reset + snapshot).
 *
 * Heartbeats are SSE comment lines (": ping"); the EventSource API never
 * shows comments to scripts, so they cannot be counted in a browser.
 *
 * Emitted events (EventTarget; payload in `event.detail`): "event" (decoded
 * wire event with `bytes`), "control" (frames of another type), "state"
 * (`{state}`), "open" (`{reconnect, url}`).
 */
import { utf8Length } from "./ws-client.js";

const TERMINAL = new Set(["completed", "failed"]);

function defaultIsTerminal(msg) {
  return TERMINAL.has(msg.event) || (msg.event === "snapshot" && TERMINAL.has(msg.data && msg.data.status));
}

export class SSEClient extends EventTarget {
  /**
   * @param {string} url path of the stream, e.g. /sse/tasks/ID
   * @param {{lastEventId?: string, dropDelay?: number, endOnTerminal?: boolean, isTerminal?: (msg: object) => boolean}} [opts]
   */
  constructor(url, opts = {}) {
    super();
    this.url = url;
    this.lastEventId = opts.lastEventId ?? "";
    this.dropDelay = opts.dropDelay ?? 300;
    this.endOnTerminal = opts.endOnTerminal ?? true;
    this.isTerminal = opts.isTerminal || defaultIsTerminal;
    this.state = "idle";
    this.stats = { connects: 0, reconnects: 0, heartbeats: 0, events: 0, controls: 0, bytes: 0, wireBytes: 0 };
    this.terminalSeen = false;
    this._es = null;
    this._timer = 0;
    this._stopped = false;
  }

  connect() {
    if (this._es || this._stopped) return;
    this._open();
  }

  /** drop closes the EventSource (final for the browser) and re-opens a new
   * one with ?last_event_id=<last id> after dropDelay ms. */
  drop() {
    if (!this._es || this._stopped) return;
    this._es.close();
    this._es = null;
    this._setState("reconnecting", { reason: "client drop: es.close(), reopening with ?last_event_id=" + this.lastEventId });
    this._timer = setTimeout(() => this._open(), this.dropDelay);
  }

  close() {
    this._stopped = true;
    clearTimeout(this._timer);
    if (this._es) this._es.close();
    this._es = null;
    this._setState("closed");
  }

  _connectURL() {
    const u = new URL(this.url, location.href);
    if (this.lastEventId !== "") u.searchParams.set("last_event_id", this.lastEventId);
    return u.toString();
  }

  _open() {
    this._timer = 0;
    const url = this._connectURL();
    const es = new EventSource(url);
    this._es = es;
    this._setState("connecting", { url });
    es.onopen = () => {
      if (this._es !== es) return;
      const reconnect = this.stats.connects > 0;
      this.stats.connects++;
      if (reconnect) this.stats.reconnects++;
      this._setState("open", { url });
      this._emit("open", { reconnect, url });
    };
    es.onmessage = (m) => {
      if (this._es !== es) return;
      const size = utf8Length(m.data);
      this.stats.bytes += size;
      // "id: <id>\n" + "data: <payload>\n" + "\n"
      this.stats.wireBytes += size + 8 + (m.lastEventId ? 5 + utf8Length(m.lastEventId) : 0);
      if (m.lastEventId) this.lastEventId = m.lastEventId;
      let msg;
      try { msg = JSON.parse(m.data); } catch { return; }
      if (msg.type !== "event") {
        this.stats.controls++;
        this._emit("control", msg);
        return;
      }
      this.stats.events++;
      if (this.endOnTerminal && this.isTerminal(msg)) this.terminalSeen = true;
      this._emit("event", { ...msg, bytes: size });
    };
    es.onerror = () => {
      if (this._es !== es) return;
      if (this.terminalSeen) {
        // The stream ended after its terminal event; a reconnect would get 204.
        es.close();
        this._es = null;
        this._setState("ended");
        return;
      }
      if (es.readyState === EventSource.CLOSED) {
        // 204, 404, a wrong Content-Type or a network failure on reconnect:
        // EventSource gave up for good.
        this._es = null;
        this._setState("failed", { reason: "EventSource closed (HTTP error, 204 or bad content type)" });
        return;
      }
      this._setState("reconnecting", { reason: "connection lost; EventSource retries with Last-Event-ID: " + (this.lastEventId || "(none)") });
    };
  }

  _setState(state, extra = {}) {
    this.state = state;
    this._emit("state", { state, ...extra });
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
