// Small fetch helpers for the demo server's HTTP API.

// The admin drop endpoint is open on loopback; elsewhere the server needs a
// token: open the page as /?admin_token=... to send it.
const adminToken = new URLSearchParams(location.search).get("admin_token") || "";

async function call(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers } };
  if (method === "POST") {
    // The server takes a browser's POST only as JSON, even without a body
    // (a cross-site page cannot send that without the server's consent).
    init.headers["Content-Type"] = "application/json";
  }
  if (body !== undefined) {
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (!r.ok) {
    const msg = data && (data.message || data.error || data.code) ? `${data.code ? data.code + ": " : ""}${data.message || data.error}` : r.statusText;
    const fields = data && data.fields ? " (" + Object.entries(data.fields).map(([k, v]) => `${k}: ${v}`).join(", ") + ")" : "";
    const err = new Error(`${method} ${path} → ${r.status} ${msg}${fields}`);
    err.status = r.status;
    err.data = data;
    throw err;
  }
  return { status: r.status, data };
}

/** startTask posts {"files","step_ms","fail_at"} and returns the created task. */
export async function startTask(files, stepMs, failAt) {
  const body = { files, step_ms: stepMs };
  if (failAt > 0) body.fail_at = failAt;
  return (await call("POST", "/api/tasks", body)).data;
}

/** listTasks returns the server's tasks (newest first). */
export async function listTasks() {
  const { data } = await call("GET", "/api/tasks");
  const list = Array.isArray(data) ? data : (data && (data.tasks || data.items)) || [];
  return list.slice().sort((a, b) => String(b.created_at || "").localeCompare(String(a.created_at || "")));
}

/** adminDrop asks the server to drop every connection of one transport. */
export async function adminDrop(transport) {
  const h = adminToken ? { Authorization: `Bearer ${adminToken}` } : {};
  const { data } = await call("POST", `/api/admin/drop?transport=${transport}`, undefined, h);
  return data || {};
}

/** postMessage sends a chat command over HTTP, as an SSE client must. */
export async function postMessage(clientId, cmd) {
  return call("POST", `/api/messages?client_id=${encodeURIComponent(clientId)}`, cmd);
}
