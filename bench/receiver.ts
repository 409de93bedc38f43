// The benchmark's receiver: a minimal node:http server in its own process, so it does not compete
// with the bridge's event loop. It answers 204 (or 503 while "down"), counts distinct webhook-ids,
// and records each event's latency from its ce-time (the row's own millisecond timestamp) to arrival.
// Control: GET /stats, POST /reset, POST /down, POST /up. Prints its port on stdout.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let down = false;
let requests = 0;
const seen = new Set<string>();
let latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/ctl/')) {
    if (url === '/ctl/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ requests, distinct: seen.size, firstAt, lastAt, latencies: req.headers['x-with-latencies'] ? latencies : [] }));
      return;
    }
    if (url === '/ctl/reset') {
      requests = 0;
      seen.clear();
      latencies = [];
      firstAt = lastAt = 0;
    } else if (url === '/ctl/down') down = true;
    else if (url === '/ctl/up') down = false;
    res.writeHead(204).end();
    return;
  }
  req.resume();
  req.on('end', () => {
    requests++;
    if (down) {
      res.writeHead(503).end();
      return;
    }
    const now = Date.now();
    const id = String(req.headers['webhook-id'] ?? '');
    if (!seen.has(id)) {
      seen.add(id);
      const ceTime = Date.parse(String(req.headers['ce-time'] ?? ''));
      if (!Number.isNaN(ceTime)) latencies.push(now - ceTime);
      if (firstAt === 0) firstAt = now;
      lastAt = now;
    }
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
