// The health/metrics endpoint on a real node:http server (127.0.0.1, port 0) with a real Metrics:
// status codes and bodies of every route, readiness reasons, Prometheus text, the coded error for a
// port in use, and a close() that does not hang on keep-alive connections.

import assert from 'node:assert/strict';
import { Agent, createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import { startHealthServer, type HealthServer, type Readiness } from '../../src/observe/http-server.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(port: number, path: string, method = 'GET', agent?: Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const logger = createLogger('silent');
/** Far below Node's 60 s headers timeout, so a close() that waited for active sockets would fail. */
const CLOSE_DEADLINE_MS = 2_000;

void describe('health server', () => {
  const metrics = new Metrics();
  let readiness: Readiness = { ready: true, reasons: [] };
  let server: HealthServer | undefined;
  const port = (): number => {
    assert.ok(server, 'server did not start');
    return server.port;
  };

  before(async () => {
    server = await startHealthServer({ host: '127.0.0.1', port: 0, metrics, readiness: () => readiness, logger });
  });

  after(async () => {
    await server?.close();
  });

  void it('listens on a real ephemeral port', () => {
    assert.ok(port() > 0);
  });

  void it('GET /healthz -> 200 {"status":"ok"}', async () => {
    const r = await call(port(), '/healthz');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  });

  void it('GET /readyz -> 200 when ready, 503 with the reasons when not', async () => {
    readiness = { ready: true, reasons: [] };
    const ok = await call(port(), '/readyz');
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), { status: 'ready' });

    readiness = { ready: false, reasons: ['source not connected', 'outbox not open'] };
    const notReady = await call(port(), '/readyz?probe=1');
    assert.equal(notReady.status, 503);
    assert.deepEqual(JSON.parse(notReady.body), {
      status: 'not ready',
      reasons: ['source not connected', 'outbox not open'],
    });
    readiness = { ready: true, reasons: [] };
  });

  void it('a readiness probe that throws answers 500 and the server keeps serving', async () => {
    const saved = readiness;
    const throwing = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics,
      readiness: () => {
        throw new Error('boom');
      },
      logger,
    });
    try {
      assert.equal((await call(throwing.port, '/readyz')).status, 500);
      assert.equal((await call(throwing.port, '/healthz')).status, 200);
    } finally {
      await throwing.close();
      readiness = saved;
    }
  });

  void it('GET /metrics -> Prometheus text with the bridge instruments and their current values', async () => {
    metrics.outboxPending.set(7);
    metrics.events.inc({ event: 'AgentLog' });
    metrics.observeDeliveryAttempt('delivered', 12);
    const r = await call(port(), '/metrics');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^ucw_outbox_pending 7$/m);
    assert.match(r.body, /^ucw_events_total\{event="AgentLog"\} 1$/m);
    assert.match(r.body, /^ucw_deliveries_total\{outcome="delivered"\} 1$/m);
    assert.match(r.body, /^ucw_delivery_duration_seconds_bucket\{le="0.025"\} 1$/m);
    assert.match(r.body, /^ucw_source_connected 0$/m);
    // Default process metrics carry the same prefix.
    assert.match(r.body, /^ucw_process_cpu_user_seconds_total /m);
  });

  void it('source lag is computed at scrape time from the last commit', async () => {
    const now = 1_000_000;
    const m = new Metrics({ now: () => now });
    // Before any commit there is nothing to lag behind: prom-client shows an unset gauge as 0.
    assert.match(await m.render(), /^ucw_source_lag_seconds 0$/m);
    m.observeSourceCommit(now - 2_500);
    assert.match(await m.render(), /^ucw_source_lag_seconds 2.5$/m);
  });

  void it('two Metrics instances do not share a registry', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.outboxDead.set(3);
    assert.match(await a.render(), /^ucw_outbox_dead 3$/m);
    assert.match(await b.render(), /^ucw_outbox_dead 0$/m);
  });

  void it('unknown paths -> 404, non-GET -> 405', async () => {
    assert.equal((await call(port(), '/')).status, 404);
    assert.equal((await call(port(), '/metrics/extra')).status, 404);
    const post = await call(port(), '/healthz', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET');
    assert.equal((await call(port(), '/metrics', 'DELETE')).status, 405);
  });

  void it('a port in use rejects with UCW_ERR_HTTP_LISTEN and a hint naming --http-port', async () => {
    await assert.rejects(
      startHealthServer({ host: '127.0.0.1', port: port(), metrics, readiness: () => readiness, logger }),
      (err: unknown) => {
        assert.ok(err instanceof BridgeError);
        assert.equal(err.code, 'UCW_ERR_HTTP_LISTEN');
        assert.match(err.hint ?? '', /--http-port/);
        assert.equal(err.details?.['errno'], 'EADDRINUSE');
        return true;
      },
    );
  });
});

void describe('health server close()', () => {
  void it('resolves promptly with a keep-alive and a half-sent request open, and frees the port', async () => {
    const s = await startHealthServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new Metrics(),
      readiness: () => ({ ready: true, reasons: [] }),
      logger,
    });
    const agent = new Agent({ keepAlive: true });
    const slowClient = connect(s.port, '127.0.0.1');
    try {
      assert.equal((await call(s.port, '/healthz', 'GET', agent)).status, 200);
      // A request whose headers never finish keeps its connection "active": server.close() alone
      // (which only drops idle sockets) would wait for the headers timeout, about a minute.
      await new Promise<void>((resolve, reject) => {
        slowClient.once('error', reject);
        slowClient.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n', () => resolve());
      });
      const slowClosed = new Promise<void>((resolve) => slowClient.once('close', () => resolve()));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(resolve, CLOSE_DEADLINE_MS, 'timeout');
      });
      const outcome = await Promise.race([s.close().then(() => 'closed'), timeout]);
      clearTimeout(timer);
      assert.equal(outcome, 'closed');
      await slowClosed;
      await s.close(); // idempotent

      // The port is free again: a plain server can bind it.
      const probe: Server = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(s.port, '127.0.0.1', resolve);
      });
      assert.equal((probe.address() as AddressInfo).port, s.port);
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      agent.destroy();
      slowClient.destroy();
    }
  });
});
