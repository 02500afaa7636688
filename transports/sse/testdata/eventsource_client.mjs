// Conformance client: the npm `eventsource` package (a WHATWG-compliant
// EventSource) follows a twinstream SSE stream and prints one JSON line per
// happening on stdout, for sse's Go test to check:
//
//   {"kind":"open"}
//   {"kind":"message","type":"message","id":"<lastEventId>","data":"<data>"}
//   {"kind":"error","code":<status or null>,"message":"..."}
//   {"kind":"done","events":N}
//
// Usage: node eventsource_client.mjs <deps dir> <url> <events wanted>
// It exits 0 after <events wanted> event frames, 1 on a fatal error, and
// 2 if nothing finishes within 30s.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [depsDir, url, wantArg] = process.argv.slice(2);
const want = Number(wantArg);
const require = createRequire(join(depsDir, 'package.json'));
const { EventSource } = require('eventsource');

const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const timer = setTimeout(() => {
  out({ kind: 'error', code: null, message: 'timeout' });
  process.exit(2);
}, 30000);

let events = 0;
const es = new EventSource(url);
es.onopen = () => out({ kind: 'open' });
es.onmessage = (ev) => {
  out({ kind: 'message', type: ev.type, id: ev.lastEventId, data: ev.data });
  let msg;
  try {
    msg = JSON.parse(ev.data);
  } catch (err) {
    out({ kind: 'error', code: null, message: 'data is not JSON: ' + err.message });
    process.exit(1);
  }
  if (msg.type === 'event' && ++events === want) {
    es.close();
    clearTimeout(timer);
    out({ kind: 'done', events });
  }
};
// Errors include the end of each response (EventSource then reconnects on
// its own); readyState CLOSED means it gave up.
es.onerror = (err) => {
  out({ kind: 'error', code: err.code ?? null, message: err.message ?? '', closed: es.readyState === EventSource.CLOSED });
  if (es.readyState === EventSource.CLOSED) {
    clearTimeout(timer);
    process.exit(1);
  }
};
