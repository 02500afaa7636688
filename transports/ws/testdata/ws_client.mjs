// Conformance client: the npm `ws` package (an independent WebSocket
// implementation) driven by ws's Go test, one JSON instruction per line on
// stdin:
//
//   {"op":"open","name":"a","url":"ws://...","origin":"https://..."}   (origin optional)
//   {"op":"send","name":"a","text":"..."}        a text frame
//   {"op":"binary","name":"a","text":"..."}      a binary frame
//   {"op":"close","name":"a","code":1000}
//   {"op":"exit"}
//
// It prints one JSON line per happening on stdout:
//
//   {"name":"a","kind":"open"}
//   {"name":"a","kind":"frame","data":"<text>","binary":false}
//   {"name":"a","kind":"close","code":1000,"reason":"..."}
//   {"name":"a","kind":"http","status":403}        the upgrade was refused
//   {"name":"a","kind":"error","message":"..."}
//
// Like a browser page, it answers app-level {"type":"ping"} frames with a
// {"type":"pong"} carrying the same ts (protocol pings are answered by ws
// itself). Usage: node ws_client.mjs <deps dir>. It exits when told, when
// stdin ends, or after 60s.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [depsDir] = process.argv.slice(2);
const require = createRequire(join(depsDir, 'package.json'));
const WebSocket = require('ws');

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const timer = setTimeout(() => {
  out({ kind: 'error', message: 'timeout' });
  process.exit(2);
}, 60000);
const conns = new Map();

function open({ name, url, origin }) {
  const ws = new WebSocket(url, origin ? { origin } : {});
  conns.set(name, ws);
  ws.on('open', () => out({ name, kind: 'open' }));
  ws.on('message', (data, isBinary) => {
    const text = data.toString('utf8');
    out({ name, kind: 'frame', data: text, binary: isBinary });
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (err) {
      out({ name, kind: 'error', message: 'frame is not JSON: ' + err.message });
      return;
    }
    if (msg.type === 'ping') {
      ws.send(JSON.stringify({ type: 'pong', ts: msg.ts }));
    }
  });
  ws.on('close', (code, reason) => out({ name, kind: 'close', code, reason: reason.toString('utf8') }));
  ws.on('unexpected-response', (req, res) => {
    out({ name, kind: 'http', status: res.statusCode });
    req.destroy();
  });
  ws.on('error', (err) => out({ name, kind: 'error', message: err.message }));
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const m = JSON.parse(line);
  switch (m.op) {
    case 'open':
      open(m);
      break;
    case 'send':
      conns.get(m.name).send(m.text);
      break;
    case 'binary':
      conns.get(m.name).send(Buffer.from(m.text), { binary: true });
      break;
    case 'close':
      conns.get(m.name).close(m.code ?? 1000);
      break;
    case 'exit':
      finish();
      break;
    default:
      out({ kind: 'error', message: 'unknown op ' + m.op });
  }
});
rl.on('close', finish);

function finish() {
  clearTimeout(timer);
  for (const ws of conns.values()) ws.terminate();
  process.exit(0);
}
