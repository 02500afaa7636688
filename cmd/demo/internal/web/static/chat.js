// ChatSide: one side of the chat strip. The WebSocket side receives and
// sends on one socket (/ws?client_id=NAME, JSON commands); the SSE side
// receives on /sse?client_id=NAME and, SSE being one-way, sends every
// command with an HTTP POST to /api/messages?client_id=NAME.
import { WebSocketClient } from "./ws-client.js";
import { SSEClient } from "./sse-client.js";
import { postMessage } from "./api.js";
import { nowMicros } from "./stats.js";

const LOG_MAX = 120;
const KEEP = 500; // messages and presence events kept for debug()

export class ChatSide {
  /**
   * @param {HTMLElement} root cloned chat-side template
   * @param {"ws"|"sse"} transport
   * @param {{session: object, peer: () => string}} opts peer() names the other side (default "to")
   */
  constructor(root, transport, opts) {
    this.root = root;
    this.transport = transport;
    this.session = opts.session;
    this.peer = opts.peer;
    this.el = {};
    for (const n of root.querySelectorAll("[data-el]")) this.el[n.dataset.el] = n;
    this.messages = [];
    this.presence = [];
    this.client = null;
    this.name = "";
    this._n = 0;
    for (const b of root.querySelectorAll("button[data-cmd]")) {
      b.addEventListener("click", () => this.send(b.dataset.cmd));
    }
    this.el.msg.addEventListener("keydown", (e) => { if (e.key === "Enter") this.send("broadcast"); });
    this.el.name.addEventListener("change", () => this.start(this.el.name.value.trim()));
  }

  /** start (re)connects as client id name. */
  start(name) {
    if (this.client) this.client.close();
    this.name = name;
    this.el.name.value = name;
    if (!this.el.to.value) this.el.to.value = this.peer();
    const q = `?client_id=${encodeURIComponent(name)}`;
    const c = this.transport === "ws"
      ? new WebSocketClient(`/ws${q}`, { resume: "topics", idleTimeout: 60000 })
      : new SSEClient(`/sse${q}`, { endOnTerminal: false });
    this.client = c;
    this.session.clients.add(c);
    this.el.endpoint.textContent = (this.transport === "ws" ? "GET /ws" : "GET /sse") + q;
    this.el.sendpath.textContent = this.transport === "ws"
      ? "sends JSON on the same socket (ws.send)"
      : "sends via HTTP POST /api/messages";
    this.el.sendpath.title = this.transport === "ws" ? "" : `POST /api/messages${q}`;
    const mine = (f) => (e) => { if (this.client === c) f(e.detail); };
    c.addEventListener("state", mine((s) => {
      this.el.state.textContent = s.state;
      this.el.state.className = `pill state-${s.state}`;
    }));
    c.addEventListener("event", mine((ev) => this._onEvent(ev)));
    c.addEventListener("control", mine((f) => this._onControl(f)));
    c.connect();
  }

  async send(type) {
    const message = this.el.msg.value.trim();
    if (!message) { this._line("err", "type a message first"); return; }
    const cmd = { type, message, id: `${this.transport}-${++this._n}` };
    if (type === "personal") cmd.to = this.el.to.value.trim();
    if (this.transport === "ws") {
      if (!this.client || !this.client.send(cmd)) this._line("err", "not connected");
      else this._line("out", `${label(type, cmd.to)} ${message}`, "ws.send(JSON)");
      return;
    }
    try {
      const r = await postMessage(this.name, cmd);
      const size = r.data && r.data.size !== undefined ? `, queued for ${r.data.size}` : "";
      this._line("out", `${label(type, cmd.to)} ${message}`, `POST → ${r.status}${size}`);
    } catch (err) {
      this._line("err", err.message);
    }
  }

  _onEvent(ev) {
    const d = ev.data || {};
    if (ev.event === "message") {
      if (typeof ev.ts === "number") this.session.latencies.add((nowMicros() - ev.ts) / 1000);
      const personal = ev.topic.startsWith("client:");
      keep(this.messages, { from: d.from, message: d.message, topic: ev.topic, seq: ev.seq });
      this._line(personal ? "personal" : "in", `${personal ? "[personal]" : "[broadcast]"} ${d.from}: ${d.message}`, `${ev.topic} #${ev.seq}`);
    } else if (ev.event === "join" || ev.event === "leave") {
      keep(this.presence, { kind: ev.event, client_id: d.client_id });
      this._line("sys", `${d.client_id} ${ev.event === "join" ? "joined" : "left"}`, `${ev.topic} #${ev.seq}`);
    } else if (ev.event === "reset") {
      this._line("err", `reset on ${ev.topic}: seq ${d.lost_from}–${d.lost_to} lost`);
    } else {
      this._line("in", `${ev.event} ${JSON.stringify(d)}`, `${ev.topic} #${ev.seq}`);
    }
  }

  _onControl(f) {
    if (f.type === "ack") this._line("ack", `ack ${f.id || ""}: queued for ${f.size ?? "?"} connection(s)`);
    else if (f.type === "error") this._line("err", `${f.code}: ${f.message}`);
  }

  _line(cls, text, meta = "") {
    const row = document.createElement("div");
    row.className = `cl ${cls}`;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = text;
    row.append(t);
    if (meta) {
      const m = document.createElement("span");
      m.className = "meta";
      m.textContent = meta;
      row.append(m);
    }
    this.el.log.prepend(row);
    while (this.el.log.childElementCount > LOG_MAX) this.el.log.lastElementChild.remove();
  }

  debug() {
    return {
      name: this.name, state: this.client ? this.client.state : "idle",
      messages: this.messages.slice(), presence: this.presence.slice(),
      stats: this.client ? { ...this.client.stats } : null,
    };
  }
}

function label(type, to) {
  return type === "personal" ? `→ ${to}:` : type === "broadcast_except" ? "[all but me]" : "[all]";
}

function keep(list, item) {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}
