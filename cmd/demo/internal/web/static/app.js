// The demo page: wires the start form, the task list, the two transport
// panels, the chat strip and the measured facts table together.
import { Panel } from "./panel.js";
import { ChatSide } from "./chat.js";
import { Latencies, fmtMs, fmtBytes } from "./stats.js";
import { startTask, listTasks } from "./api.js";
import { renderDeploymentFacts } from "./deploy.js";

const $ = (id) => document.getElementById(id);

// Everything this browser session measured, per transport: every client it
// opened (task streams and chat) and every delivery latency.
const session = {
  ws: { latencies: new Latencies(), clients: new Set() },
  sse: { latencies: new Latencies(), clients: new Set() },
};

function mount(id, tplId) {
  const root = $(id);
  root.append($(tplId).content.cloneNode(true));
  return root;
}

const panels = {
  ws: new Panel(mount("panel-ws", "panel-tpl"), "ws", { session: session.ws, color: "#2563eb" }),
  sse: new Panel(mount("panel-sse", "panel-tpl"), "sse", { session: session.sse, color: "#c2410c" }),
};

const suffix = Math.random().toString(36).slice(2, 5);
const chat = {};
chat.ws = new ChatSide(mount("chat-ws", "chat-tpl"), "ws", { session: session.ws, peer: () => chat.sse.name });
chat.sse = new ChatSide(mount("chat-sse", "chat-tpl"), "sse", { session: session.sse, peer: () => chat.ws.name });
chat.ws.el.title.textContent = "WebSocket";
chat.sse.el.title.textContent = "SSE";
chat.ws.name = `alice-${suffix}`;
chat.sse.name = `bob-${suffix}`;
chat.ws.start(chat.ws.name);
chat.sse.start(chat.sse.name);

let watched = null;
let tasks = [];

/** watch follows one task in both panels at once. */
function watch(id) {
  watched = id;
  $("watching").textContent = `watching task ${id}`;
  panels.ws.watch(id);
  panels.sse.watch(id);
  renderTasks();
}

$("start-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const num = (k) => Number(f.get(k) || 0);
  const msg = $("start-msg");
  try {
    const t = await startTask(num("files"), num("step_ms"), num("fail_at"));
    msg.textContent = `POST /api/tasks → task ${t.id} (${t.status})`;
    msg.className = "form-msg ok";
    watch(t.id);
    refreshTasks();
  } catch (err) {
    msg.textContent = err.message;
    msg.className = "form-msg err";
  }
});

async function refreshTasks() {
  try {
    tasks = await listTasks();
    renderTasks();
  } catch {
    // the server may be restarting; the next poll retries
  }
}

let rendered = "";

function renderTasks() {
  const list = $("task-list");
  if (!tasks.length) return;
  // Re-render only on change, so a click is never lost to a rebuilt button.
  const key = watched + JSON.stringify(tasks.slice(0, 40).map((t) => [t.id, t.status, t.progress, t.message]));
  if (key === rendered) return;
  rendered = key;
  list.replaceChildren(...tasks.slice(0, 40).map((t) => {
    const row = document.createElement("button");
    row.type = "button";
    row.className = `task ${t.status}${t.id === watched ? " watched" : ""}`;
    row.dataset.id = t.id;
    const pct = Math.round(t.progress ?? 0);
    row.innerHTML = `<span class="tid"></span><span class="tstatus"></span>
      <span class="mini"><span style="width:${pct}%"></span></span><span class="tpct">${pct}%</span>`;
    row.querySelector(".tid").textContent = t.id.length > 10 ? t.id.slice(0, 8) + "…" : t.id;
    row.querySelector(".tstatus").textContent = t.status;
    row.title = `task ${t.id}: ${t.files ?? "?"} files, step ${t.step_ms ?? "?"} ms${t.fail_at ? `, fail at ${t.fail_at}` : ""} — ${t.message || t.error || ""}`;
    row.addEventListener("click", () => watch(t.id));
    return row;
  }));
}

// The measured half of the facts table.
function totals(s) {
  const t = { connects: 0, reconnects: 0, heartbeats: 0, events: 0, bytes: 0, wireBytes: 0 };
  for (const c of s.clients) for (const k of Object.keys(t)) t[k] += c.stats[k] || 0;
  return t;
}

function renderFacts() {
  const w = totals(session.ws), s = totals(session.sse);
  const lw = session.ws.latencies, ls = session.sse.latencies;
  const per = (t) => (t.events ? Math.round(t.wireBytes / t.events) + " B" : "–");
  const rows = [
    ["events received", w.events, s.events],
    ["payload bytes", fmtBytes(w.bytes), fmtBytes(s.bytes)],
    ["≈ wire bytes/event", per(w), per(s)],
    ["connections opened", w.connects, s.connects],
    ["reconnects", w.reconnects, s.reconnects],
    ["heartbeats seen", w.heartbeats, "invisible"],
    ["latency p50", fmtMs(lw.p(50)), fmtMs(ls.p(50))],
    ["latency p99", fmtMs(lw.p(99)), fmtMs(ls.p(99))],
  ];
  const body = $("measured").tBodies[0];
  body.replaceChildren(...rows.map(([k, a, b]) => {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.textContent = k;
    tr.append(th);
    for (const v of [a, b]) {
      const td = document.createElement("td");
      td.textContent = String(v);
      tr.append(td);
    }
    return tr;
  }));
}

// A debug handle for tests and the curious: window.__twinstream.snapshot().
window.__twinstream = {
  panels, chat, session, watch,
  get watched() { return watched; },
  snapshot() {
    return {
      watched,
      ws: panels.ws.debug(), sse: panels.sse.debug(),
      chat: { ws: chat.ws.debug(), sse: chat.sse.debug() },
      tasks,
      facts: { ws: totals(session.ws), sse: totals(session.sse) },
    };
  },
};

refreshTasks();
setInterval(refreshTasks, 1000);
renderFacts();
setInterval(renderFacts, 500);
renderDeploymentFacts($("deploy-facts"), $("deploy-empty"));
