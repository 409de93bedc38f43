// Health and metrics HTTP endpoint on node:http: /healthz (process alive), /readyz (bridge able to do
// its job, with reasons when not), /metrics (Prometheus text), and the admin routes (admin-api.ts)
// behind their token. No response echoes request data. close() resolves only once every socket is gone.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BridgeError, describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { AdminAuth, isLoopbackHost } from './admin-auth.js';
import { serveAdmin, type AdminRoute } from './admin-api.js';
import type { Metrics } from './metrics.js';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface HealthServerOptions {
  host: string;
  /** TCP port; 0 picks a free ephemeral port (the real one is returned). */
  port: number;
  metrics: Metrics;
  readiness: () => Readiness;
  logger: Logger;
  /** Admin routes (status page, /api/*); none by default. */
  routes?: readonly AdminRoute[];
  /** Tokens accepted by the admin routes (--admin-token, the state dir's token). */
  adminTokens?: readonly string[];
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(text);
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  opts: HealthServerOptions,
  auth: AdminAuth,
): Promise<void> {
  const [path = '/', search = ''] = (req.url ?? '/').split('?', 2);
  if (await serveAdmin(req, res, path, new URLSearchParams(search), opts.routes ?? [], auth)) return;
  // For the probes only the path matters; a query string (e.g. cache busters) is ignored.
  const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
  if (!known) {
    sendJson(res, 404, { status: 'not found' });
    return;
  }
  if (req.method !== 'GET') {
    sendJson(res, 405, { status: 'method not allowed' }, { allow: 'GET' });
    return;
  }
  if (path === '/healthz') {
    sendJson(res, 200, { status: 'ok' });
    return;
  }
  if (path === '/readyz') {
    const { ready, reasons } = opts.readiness();
    if (ready) sendJson(res, 200, { status: 'ready' });
    else sendJson(res, 503, { status: 'not ready', reasons });
    return;
  }
  const text = await opts.metrics.render();
  res.writeHead(200, {
    'content-type': opts.metrics.contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const log = opts.logger.child({ component: 'http' });
  const auth = new AdminAuth(opts.adminTokens ?? [], isLoopbackHost(opts.host));
  const server = createServer((req, res) => {
    handle(req, res, opts, auth).catch((err: unknown) => {
      // A failing readiness probe or metrics collector must not kill the process; answer 500.
      log.error({ err: describeError(err), path: req.url?.split('?', 1)[0] }, 'health endpoint failed');
      if (!res.headersSent) sendJson(res, 500, { status: 'error' });
      else res.destroy();
    });
  });

  try {
    await listen(server, opts.host, opts.port);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const hint =
      code === 'EADDRINUSE'
        ? `Port ${opts.port} on ${opts.host} is already in use: choose another --http-port (or 0 for any free port)`
        : `Check --http-host/--http-port (${opts.host}:${opts.port}): ` +
          `the address must exist on this host and the port be allowed`;
    throw new BridgeError(
      'UCW_ERR_HTTP_LISTEN',
      `Cannot listen on ${opts.host}:${opts.port}: ${describeError(err).message}`,
      {
        hint,
        cause: err,
        details: { host: opts.host, port: opts.port, ...(typeof code === 'string' ? { errno: code } : {}) },
      },
    );
  }

  // Runtime errors after listening (rare: e.g. EMFILE) are logged instead of crashing the bridge.
  server.on('error', (err) => log.error({ err: describeError(err) }, 'health server error'));

  const port = (server.address() as AddressInfo).port;
  log.info({ host: opts.host, port }, 'health and metrics endpoint listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Probes and Prometheus keep connections alive; without this close() would wait for their timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
