// The benchmark's node receiver (the fallback when bench/receiver.c cannot be built): the shared
// demo/receiver.ts in its own process, so it does not compete with the bridge's event loop. It answers
// 204 (or 503 while "down"), counts distinct webhook-ids, and records each event's latency from its
// ce-time (the row's own millisecond timestamp) to arrival. Nothing else is kept per request.
// Control: GET /ctl/stats, POST /ctl/reset, /ctl/down, /ctl/up. Prints its port on stdout.

import { startReceiver, type RecordedRequest, type Responder } from '../demo/receiver.js';

let down = false;
let requests = 0;
const seen = new Set<string>();
let latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;

function control(req: RecordedRequest): ReturnType<Responder> {
  if (req.path === '/ctl/stats') {
    const body = JSON.stringify({
      requests,
      distinct: seen.size,
      firstAt,
      lastAt,
      latencies: req.headers['x-with-latencies'] ? latencies : [],
    });
    return { status: 200, headers: { 'content-type': 'application/json' }, body };
  }
  if (req.path === '/ctl/reset') {
    requests = 0;
    seen.clear();
    latencies = [];
    firstAt = lastAt = 0;
  } else if (req.path === '/ctl/down') down = true;
  else if (req.path === '/ctl/up') down = false;
  return { status: 204 };
}

/** `node bench/receiver.ts 5`: every event answered 5 ms late (the bench's slow receiver). */
const delayMs = Number(process.argv[2] ?? 0);

const responder: Responder = (req) => {
  if (req.path.startsWith('/ctl/')) return control(req);
  requests++;
  if (down) return { status: 503 };
  const now = Date.now();
  const id = req.headers['webhook-id'] ?? '';
  if (!seen.has(id)) {
    seen.add(id);
    const ceTime = Date.parse(req.headers['ce-time'] ?? '');
    if (!Number.isNaN(ceTime)) latencies.push(now - ceTime);
    if (firstAt === 0) firstAt = now;
    lastAt = now;
  }
  return delayMs > 0 ? { status: 204, delayMs } : { status: 204 };
};

const rx = await startReceiver(responder, { record: false, keepAliveTimeoutMs: 60_000 });
process.stdout.write(`${new URL(rx.url).port}\n`);
process.on('SIGTERM', () => void rx.close().then(() => process.exit(0)));
