// HttpSender against real local servers (127.0.0.1, ephemeral ports): what goes on the wire, and how
// every kind of answer or failure is classified; the egress guard refusing destinations before any
// connection; TLS verification with a CA made in the test (openssl CLI). Every server and the sender
// are closed in after(). No test ever connects anywhere but 127.0.0.1: a spy on net/tls.connect
// throws for any other host, so a broken guard fails the test instead of reaching the address.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { HttpSender, type HttpSenderOptions } from '../../src/delivery/http-sender.js';
import { BridgeError } from '../../src/errors.js';
import { createSigner } from '../../src/delivery/signing.js';
import type { AttemptOutcome, DeliveryAttempt } from '../../src/delivery/types.js';
import { waitFor } from '../helpers/wait-for.js';
import { startPortGate } from '../helpers/port-gate.js';

const HOST = '127.0.0.1';
const SECRET_KEY = Buffer.from('integration-test-key-0123456789');
const SECRETS = [`whsec_${SECRET_KEY.toString('base64')}`, 'rotated-plain-secret'];
const FIXED_NOW_MS = Date.UTC(2026, 2, 2, 14, 5, 9, 999);
const REQUEST_TIMEOUT_MS = 600;
/** Longer than the unit layer's bound on a file: a send that ends proves something else ended it. */
const UNREACHED_TIMEOUT_MS = 10 * 60_000;
const TEN_MB = 10 * 1024 * 1024;

const STORED_BODY =
  '{"event":"AgentRingNoAnswer","date":"2026-03-02 14:05:09","agent":"ana","agentNumber":"1001",' +
  '"agentFullName":"Ana Pérez","callerIdNum":"+59899123456","campaign":"ventas"}';

interface Received {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

interface TestServer {
  readonly port: number;
  readonly requests: Received[];
  readonly connections: () => number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];

/** A server on 127.0.0.1:0 that tracks its sockets so close() can cut even never-answered ones. */
async function listen(
  server: net.Server,
): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let connectionCount = 0;
  server.on('connection', (socket: net.Socket) => {
    connectionCount++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    connections: () => connectionCount,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An HTTP server that records each fully-read request, then lets `respond` answer it. */
async function httpServer(respond: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    res.on('error', () => undefined);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      respond(req, res);
    });
  });
  const handle = await listen(server);
  const s: TestServer = { ...handle, requests };
  servers.push(s);
  return s;
}

function attemptTo(url: string, overrides: Partial<DeliveryAttempt> = {}): DeliveryAttempt {
  return {
    url,
    eventId: '6a1f0c7e-1d2b-5c3d-8e4f-0a1b2c3d4e5f',
    eventName: 'AgentRingNoAnswer',
    occurredAtMs: Date.UTC(2026, 2, 2, 14, 5, 9, 120),
    body: STORED_BODY,
    bodyFormat: 'ucontact',
    attempt: 1,
    ...overrides,
  };
}

function expectedSignature(id: string, timestamp: string, body: string): string {
  return [SECRET_KEY, Buffer.from('rotated-plain-secret')]
    .map((key) => `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`)
    .join(' ');
}

function assertRetry(outcome: AttemptOutcome): Extract<AttemptOutcome, { kind: 'retry' }> {
  assert.equal(outcome.kind, 'retry', `expected retry, got ${JSON.stringify(outcome)}`);
  return outcome;
}

function assertDead(outcome: AttemptOutcome): Extract<AttemptOutcome, { kind: 'dead' }> {
  assert.equal(outcome.kind, 'dead', `expected dead, got ${JSON.stringify(outcome)}`);
  return outcome;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Records the host of every net.connect / tls.connect call (undici calls them through the module
 * objects) and refuses, by throwing, any host that is not loopback: whatever the code under test
 * does, no packet leaves this machine.
 */
function spyOnConnect(): { hosts: string[]; restore(): void } {
  const hosts: string[] = [];
  const originalNet = net.connect;
  const originalTls = tls.connect;
  const wrap = <F extends (...args: never[]) => unknown>(original: F): F =>
    function (this: unknown, ...args: Parameters<F>) {
      const first = args[0] as unknown;
      const host =
        typeof first === 'object' && first !== null ? String((first as { host?: unknown }).host) : String(args[1]);
      hosts.push(host);
      if (!LOOPBACK_HOSTS.has(host)) throw new Error(`test safety: refusing to connect to ${host}`);
      return original.apply(this, args);
    } as F;
  net.connect = wrap(originalNet);
  tls.connect = wrap(originalTls);
  return {
    hosts,
    restore() {
      net.connect = originalNet;
      tls.connect = originalTls;
    },
  };
}

const HAS_OPENSSL = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

/** A throw-away CA and a server certificate for 127.0.0.1 signed by it, made with the openssl CLI. */
function makeTestPki(dir: string): { caFile: string; key: string; cert: string } {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=ucw test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'server.ext',
  );
  return {
    caFile: join(dir, 'ca.pem'),
    key: readFileSync(join(dir, 'server.key'), 'utf8'),
    cert: readFileSync(join(dir, 'server.pem'), 'utf8'),
  };
}

const SENDER_OPTIONS: HttpSenderOptions = {
  connectTimeoutMs: 500,
  requestTimeoutMs: REQUEST_TIMEOUT_MS,
  connectionsPerUrl: 2,
  userAgent: 'ucontact-webhooks/test',
  ceSource: 'ucontact-webhooks://test-db',
  signer: createSigner(SECRETS),
  now: () => FIXED_NOW_MS,
};

void describe('HttpSender', () => {
  let sender: HttpSender;
  const extraSenders: HttpSender[] = [];
  const otherSender = (over: Partial<HttpSenderOptions>): HttpSender => {
    const s = new HttpSender({ ...SENDER_OPTIONS, ...over });
    extraSenders.push(s);
    return s;
  };
  let spy: ReturnType<typeof spyOnConnect>;

  before(() => {
    spy = spyOnConnect();
    sender = new HttpSender(SENDER_OPTIONS);
  });

  after(async () => {
    await sender.close();
    await Promise.all(extraSenders.map((s) => s.close()));
    await Promise.all(servers.map((s) => s.close()));
    spy.restore();
  });

  void it('200: delivered; the receiver gets the exact body, every header and a verifiable signature', async () => {
    const server = await httpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    const outcome = await sender.send(attemptTo(`http://${HOST}:${server.port}/hook?token=abc`));

    assert.equal(outcome.kind, 'delivered');
    assert.equal(outcome.status, 200);
    assert.ok(outcome.durationMs >= 0);
    assert.equal(server.requests.length, 1);
    const got = server.requests[0]!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/hook?token=abc');
    assert.equal(got.body, STORED_BODY);
    const h = got.headers;
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h['user-agent'], 'ucontact-webhooks/test');
    assert.equal(h['webhook-id'], '6a1f0c7e-1d2b-5c3d-8e4f-0a1b2c3d4e5f');
    assert.equal(h['webhook-timestamp'], '1772460309');
    assert.equal(h['ce-specversion'], '1.0');
    assert.equal(h['ce-id'], '6a1f0c7e-1d2b-5c3d-8e4f-0a1b2c3d4e5f');
    assert.equal(h['ce-type'], 'com.ucontact.AgentRingNoAnswer');
    assert.equal(h['ce-source'], 'ucontact-webhooks://test-db');
    assert.equal(h['ce-time'], '2026-03-02T14:05:09.120Z');
    assert.equal(Number(h['content-length']), Buffer.byteLength(STORED_BODY));
    assert.equal(h['webhook-signature'], expectedSignature(h['webhook-id'], h['webhook-timestamp'], got.body));
  });

  void it('reuses the keep-alive connection for consecutive attempts to one origin', async () => {
    const server = await httpServer((_req, res) => res.writeHead(204).end());
    const url = `http://${HOST}:${server.port}/`;
    assert.equal((await sender.send(attemptTo(url))).kind, 'delivered');
    // undici frees the socket a few ticks after the body ends; back-to-back sends may open a second one.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await sender.send(attemptTo(url, { attempt: 2 }))).kind, 'delivered');
    assert.equal(server.requests.length, 2);
    assert.equal(server.connections(), 1);
  });

  void it('releasePools(): a request in flight finishes, the next request opens a new pool', async () => {
    let answerSlow: (() => void) | undefined;
    const server = await httpServer((req, res) => {
      if (req.url === '/slow') answerSlow = () => res.writeHead(204).end();
      else res.writeHead(204).end();
    });
    const s = otherSender({});
    const base = `http://${HOST}:${server.port}`;
    const slow = s.send(attemptTo(`${base}/slow`));
    await waitFor(() => answerSlow !== undefined);
    s.releasePools();
    answerSlow!();
    assert.equal((await slow).kind, 'delivered', 'the request in flight finished');
    assert.equal((await s.send(attemptTo(`${base}/slow2`))).kind, 'delivered');
    assert.equal(server.connections(), 2, 'a new pool, a new connection');
    await s.close();
  });

  void it('envelope format: sends the envelope and signs exactly those bytes', async () => {
    const server = await httpServer((_req, res) => res.writeHead(202).end());
    const outcome = await sender.send(attemptTo(`http://${HOST}:${server.port}/`, { bodyFormat: 'envelope' }));
    assert.equal(outcome.kind, 'delivered');
    const got = server.requests[0]!;
    const parsed = JSON.parse(got.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['Id', 'CreationDateUtc', 'Category', 'Code', 'Event', 'Data']);
    assert.equal(parsed.CreationDateUtc, '20260302140509');
    assert.equal(parsed.Category, 1);
    assert.equal(parsed.Code, 1);
    assert.equal(
      got.headers['webhook-signature'],
      expectedSignature(String(got.headers['webhook-id']), '1772460309', got.body),
    );
  });

  void it('500: retry with the HTTP status code and a quote of the answer', async () => {
    const server = await httpServer((_req, res) => res.writeHead(500).end('database\nis down'));
    const r = assertRetry(await sender.send(attemptTo(`http://${HOST}:${server.port}/`)));
    assert.equal(r.status, 500);
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
    assert.equal(r.error.message, 'receiver answered 500: database is down');
    assert.equal(r.retryAfterMs, undefined);
  });

  void it('429 with Retry-After: 2 -> retry after 2000 ms', async () => {
    const server = await httpServer((_req, res) => res.writeHead(429, { 'retry-after': '2' }).end());
    const r = assertRetry(await sender.send(attemptTo(`http://${HOST}:${server.port}/`)));
    assert.equal(r.status, 429);
    assert.equal(r.retryAfterMs, 2000);
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
  });

  void it('408 and 503 with an HTTP-date Retry-After are retried', async () => {
    const server = await httpServer((req, res) =>
      req.url === '/408'
        ? res.writeHead(408).end()
        : res.writeHead(503, { 'retry-after': new Date(FIXED_NOW_MS - 999 + 30_000).toUTCString() }).end(),
    );
    assert.equal(assertRetry(await sender.send(attemptTo(`http://${HOST}:${server.port}/408`))).status, 408);
    const r = assertRetry(await sender.send(attemptTo(`http://${HOST}:${server.port}/503`)));
    assert.equal(r.status, 503);
    assert.equal(r.retryAfterMs, 29_001);
  });

  void it('400: dead, not retried', async () => {
    const server = await httpServer((_req, res) => res.writeHead(400).end('{"error":"bad field"}'));
    const d = assertDead(await sender.send(attemptTo(`http://${HOST}:${server.port}/`)));
    assert.equal(d.status, 400);
    assert.equal(d.error.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
    assert.match(d.error.message, /^receiver answered 400; not retried: \{"error":"bad field"\}$/);
  });

  void it('301: dead, and the redirect target never gets a request', async () => {
    const target = await httpServer((_req, res) => res.writeHead(200).end());
    const location = `http://user:pw@${HOST}:${target.port}/moved?sig=topsecret`;
    const server = await httpServer((_req, res) => res.writeHead(301, { location }).end());
    const d = assertDead(await sender.send(attemptTo(`http://${HOST}:${server.port}/`)));
    assert.equal(d.status, 301);
    assert.equal(d.error.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
    assert.match(d.error.message, /receiver answered 301 redirect.*redirects are not followed/);
    assert.ok(!d.error.message.includes('topsecret') && !d.error.message.includes('pw@'), d.error.message);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(server.requests.length, 1);
    assert.equal(target.requests.length, 0);
  });

  void it('connection reset: retry NETWORK, without credentials or query in the message', async () => {
    // A port held for the test that resets every connection: unlike a closed one, nothing can take it.
    const gate = await startPortGate();
    after(() => gate.close());
    const url = `http://alice:hunter22@${HOST}:${gate.port}/hook?token=s3cr3t`;
    const r = assertRetry(await sender.send(attemptTo(url)));
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_NETWORK');
    assert.equal(r.status, undefined);
    assert.match(r.error.message, /ECONNRESET|other side closed|socket hang up/);
    for (const secret of ['hunter22', 'alice', 's3cr3t', 'ventas'])
      assert.ok(!r.error.message.includes(secret), r.error.message);
  });

  void it('a receiver that never answers: retry TIMEOUT within the request timeout', async () => {
    const server = await httpServer(() => undefined);
    const started = Date.now();
    const r = assertRetry(await sender.send(attemptTo(`http://${HOST}:${server.port}/`)));
    const took = Date.now() - started;
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_TIMEOUT');
    assert.ok(took >= REQUEST_TIMEOUT_MS - 50 && took < REQUEST_TIMEOUT_MS + 1500, `took ${took} ms`);
  });

  void it("a URL's own profile: its timeout, signer and static headers; other URLs get the defaults", async () => {
    const stalls = await httpServer(() => undefined);
    const answers = await httpServer((_req, res) => res.writeHead(200).end('ok'));
    const own = `http://${HOST}:${stalls.port}/own`;
    const ownSecret = `whsec_${Buffer.from('a receiver key of its own, 32 b!').toString('base64')}`;
    const s = otherSender({
      profileFor: (url) =>
        url.endsWith('/own')
          ? {
              requestTimeoutMs: 150,
              connections: 1,
              signer: createSigner([ownSecret]),
              headers: { Authorization: 'Bearer own-token' },
            }
          : {},
    });
    const started = Date.now();
    const r = assertRetry(await s.send(attemptTo(own)));
    const took = Date.now() - started;
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_TIMEOUT');
    assert.ok(took >= 100 && took < REQUEST_TIMEOUT_MS, `own timeout 150 ms, took ${took} ms`);

    assert.equal((await s.send(attemptTo(`http://${HOST}:${answers.port}/own`))).kind, 'delivered');
    assert.equal((await s.send(attemptTo(`http://${HOST}:${answers.port}/default`))).kind, 'delivered');
    const [ownReq, defaultReq] = answers.requests;
    assert.equal(ownReq!.headers.authorization, 'Bearer own-token');
    const h = ownReq!.headers;
    const content = `${String(h['webhook-id'])}.${String(h['webhook-timestamp'])}.${ownReq!.body}`;
    const ownKey = Buffer.from('a receiver key of its own, 32 b!');
    assert.equal(
      ownReq!.headers['webhook-signature'],
      `v1,${createHmac('sha256', ownKey).update(content).digest('base64')}`,
    );
    // The other URL: no static header, the sender's own (two-secret) signer.
    assert.equal(defaultReq!.headers.authorization, undefined);
    assert.equal(String(defaultReq!.headers['webhook-signature']).split(' ').length, 2);
  });

  // Policy: the status decides. A 2xx means the receiver accepted the event even if its body never
  // ends; the sender reads at most maxResponseBytes, then destroys the stream (and that connection).
  void it('200 followed by an endless body: delivered, and the body is cut off', async () => {
    let serverSawClose = false;
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(16 * 1024, 'z');
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      res.on('close', () => (serverSawClose = true));
      pump();
    });
    // No timeout that could end it within the test's own bound: an answer proves the byte budget cut it.
    const untimed = otherSender({ requestTimeoutMs: UNREACHED_TIMEOUT_MS });
    const outcome = await untimed.send(attemptTo(`http://${HOST}:${server.port}/`));
    assert.equal(outcome.kind, 'delivered');
    await waitFor(() => serverSawClose, { message: 'the endless response was not cut off' });
  });

  void it('200 whose body stalls: delivered once the budget runs out, and that connection is closed', async () => {
    let serverSawClose = false;
    const server = await httpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      res.on('close', () => (serverSawClose = true));
    });
    const started = Date.now();
    const outcome = await sender.send(attemptTo(`http://${HOST}:${server.port}/`));
    const took = Date.now() - started;
    assert.equal(outcome.kind, 'delivered');
    // The sender's own timer is the subject: never early; late only by a generous bound (a shared machine).
    assert.ok(took >= REQUEST_TIMEOUT_MS - 50 && took < REQUEST_TIMEOUT_MS + 10_000, `took ${took} ms`);
    await waitFor(() => serverSawClose, { message: 'the stalled response was not cut off' });
  });

  void it('503 whose body is cut by a reset: retry with the status and what came of the body', async () => {
    const server = await httpServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('overloaded, try ');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const r = assertRetry(await sender.send(attemptTo(`http://${HOST}:${server.port}/`)));
    assert.equal(r.status, 503);
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_HTTP_STATUS');
    assert.equal(r.error.message, 'receiver answered 503: overloaded, try');
  });

  void it('a body of exactly maxResponseBytes ends normally; the connection is kept for the next attempt', async () => {
    const limit = 1024;
    const small = otherSender({ maxResponseBytes: limit });
    const server = await httpServer((_req, res) =>
      res.writeHead(200, { 'content-length': limit }).end(Buffer.alloc(limit, 'k')),
    );
    assert.equal((await small.send(attemptTo(`http://${HOST}:${server.port}/`))).kind, 'delivered');
    // undici frees the socket a few ticks after the body ends (as in the keep-alive test above).
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await small.send(attemptTo(`http://${HOST}:${server.port}/`))).kind, 'delivered');
    assert.equal(server.connections(), 1, 'one keep-alive connection for both');
  });

  void it('500 with a 10 MB body: retry, quickly, with a short message', async () => {
    const big = Buffer.alloc(TEN_MB, 'x');
    const server = await httpServer((_req, res) => res.writeHead(500, { 'content-length': TEN_MB }).end(big));
    const untimed = otherSender({ requestTimeoutMs: UNREACHED_TIMEOUT_MS });
    const r = assertRetry(await untimed.send(attemptTo(`http://${HOST}:${server.port}/`)));
    assert.equal(r.status, 500);
    assert.ok(r.error.message.length <= 250, `message is ${r.error.message.length} chars`);
    assert.ok(r.error.message.startsWith('receiver answered 500: xxxx'));
  });

  void it('an invalid HTTP response: retry NETWORK', async () => {
    const raw = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.write('THIS IS NOT HTTP\r\n\r\n'));
    });
    const handle = await listen(raw);
    servers.push({ ...handle, requests: [] });
    const r = assertRetry(await sender.send(attemptTo(`http://${HOST}:${handle.port}/`)));
    assert.equal(r.error.code, 'UCW_ERR_DELIVERY_NETWORK');
    assert.match(r.error.message, /invalid HTTP response/);
  });

  void it('410 Gone: the outcome is gone (the dispatcher pauses the URL), not a dead letter', async () => {
    const server = await httpServer((_req, res) => res.writeHead(410).end('unsubscribed'));
    const outcome = await sender.send(attemptTo(`http://${HOST}:${server.port}/`));
    assert.equal(outcome.kind, 'gone', JSON.stringify(outcome));
    assert.equal(outcome.status, 410);
    assert.equal(outcome.kind === 'gone' ? outcome.error.code : '', 'UCW_ERR_DELIVERY_GONE');
  });

  void it(
    'egress guard: a link-local / metadata IP literal ' + 'is dead-lettered BLOCKED without any connection',
    async () => {
      const before = spy.hosts.length;
      for (const [url, address] of [
        ['http://169.254.169.254/latest/meta-data/?token=abc', '169.254.169.254'],
        ['https://169.254.169.254/', '169.254.169.254'],
        ['http://[::ffff:169.254.169.254]:8080/', '::ffff:a9fe:a9fe'],
        ['http://169.254.10.1/', '169.254.10.1'],
        ['http://[fe80::1]/', 'fe80::1'],
      ] as const) {
        const d = assertDead(await sender.send(attemptTo(url)));
        assert.equal(d.error.code, 'UCW_ERR_DELIVERY_BLOCKED', url);
        assert.equal(d.status, undefined);
        assert.ok(d.error.message.includes(`not sent, destination ${address} is a `), d.error.message);
        assert.match(d.error.message, /(cloud metadata|link-local) address/);
        assert.ok(!d.error.message.includes('abc'), d.error.message);
      }
      assert.deepEqual(spy.hosts.slice(before), [], 'net/tls.connect must not even be called for a refused literal');
    },
  );

  void it(
    'egress guard with blockPrivateNetworks: localhost (after ' +
      'DNS) and 127.0.0.1 are refused, the server sees nothing',
    async () => {
      const server = await httpServer((_req, res) => res.writeHead(200).end());
      const strict = otherSender({ blockPrivateNetworks: true });
      for (const origin of ['http://localhost', 'https://localhost', `http://${HOST}`, 'http://[::1]']) {
        const host = new URL(origin).hostname;
        const d = assertDead(await strict.send(attemptTo(`${origin}:${server.port}/`)));
        assert.equal(d.error.code, 'UCW_ERR_DELIVERY_BLOCKED', origin);
        assert.match(d.error.message, /a loopback address .*--block-private-networks/);
        if (host === 'localhost') assert.match(d.error.message, /destination localhost resolves to (127\.0\.0\.1|::1)/);
      }
      assert.equal(server.connections(), 0);
      assert.equal(server.requests.length, 0);
      // The default policy delivers to the same server by name.
      assert.equal((await sender.send(attemptTo(`http://localhost:${server.port}/`))).kind, 'delivered');
      assert.equal(server.requests.length, 1);
    },
  );

  void describe('TLS', { skip: HAS_OPENSSL ? false : 'the openssl CLI is not installed' }, () => {
    let dir = '';
    let pki: ReturnType<typeof makeTestPki>;
    let port = 0;
    const received: string[] = [];
    let handle: Awaited<ReturnType<typeof listen>> | undefined;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ucw-tls-'));
      pki = makeTestPki(dir);
      const server = https.createServer({ key: pki.key, cert: pki.cert }, (req, res) => {
        req.resume();
        req.on('end', () => {
          received.push(String(req.url));
          res.writeHead(200).end();
        });
      });
      server.on('tlsClientError', () => undefined);
      handle = await listen(server);
      port = handle.port;
    });

    after(async () => {
      await handle?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    void it(
      'a certificate from an unknown CA: retry NETWORK saying ' + 'TLS verification failed and pointing at --ca-file',
      async () => {
        const r = assertRetry(await sender.send(attemptTo(`https://${HOST}:${port}/secure`)));
        assert.equal(r.error.code, 'UCW_ERR_DELIVERY_NETWORK');
        assert.match(r.error.message, /TLS verification failed/);
        assert.match(r.error.message, /--ca-file/);
        assert.deepEqual(received, []);
      },
    );

    void it('with --ca-file naming that CA: delivered (system CAs still trusted alongside)', async () => {
      const trusting = otherSender({ caFile: pki.caFile });
      const outcome = await trusting.send(attemptTo(`https://${HOST}:${port}/secure`));
      assert.equal(outcome.kind, 'delivered', JSON.stringify(outcome));
      assert.deepEqual(received, ['/secure']);
    });

    void it(
      'an unreadable or invalid --ca-file fails construction ' + 'with UCW_ERR_CONFIG_INVALID naming the option',
      () => {
        const garbage = join(dir, 'garbage.pem');
        writeFileSync(garbage, 'not a certificate\n');
        const broken = join(dir, 'broken.pem');
        writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
        for (const [file, why] of [
          [join(dir, 'missing.pem'), /cannot be read \(ENOENT\)/],
          [dir, /cannot be read \(EISDIR\)/],
          [garbage, /no PEM certificate/],
          [broken, /not a valid X\.509 certificate/],
        ] as const) {
          assert.throws(
            () => new HttpSender({ ...SENDER_OPTIONS, caFile: file }),
            (err: unknown) =>
              err instanceof BridgeError &&
              err.code === 'UCW_ERR_CONFIG_INVALID' &&
              err.message.startsWith('--ca-file (UCW_CA_FILE): ') &&
              why.test(err.message),
            file,
          );
        }
      },
    );
  });

  void it('a URL that is not http(s): dead without any network activity', async () => {
    const d = assertDead(await sender.send(attemptTo('ftp://example.invalid/x?key=abc123')));
    assert.equal(d.error.code, 'UCW_ERR_DELIVERY_REQUEST');
    assert.ok(!d.error.message.includes('abc123'));
  });
});
