// The one HTTP webhook receiver of the demo, the tests and the node bench receiver: a real server on
// 127.0.0.1 that records every request (even ones it fails, stalls or cuts off; unless told not to)
// and answers as its Responder says. close() always finishes: sockets are tracked and destroyed.

import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query string as sent, e.g. '/hooks/a?x=1'. */
  path: string;
  /** Header names lower-cased; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: string;
  /** Date.now() when the request head arrived. */
  receivedAtMs: number;
}

/**
 * nthForThisPath is 1 for the first request to a path, 2 for the second, ... (reset by clear()).
 * 'hang' never answers; 'destroy' cuts the connection without a response.
 */
export type Responder = (
  req: RecordedRequest,
  nthForThisPath: number,
) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang' | 'destroy';

export interface Receiver {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly requests: RecordedRequest[];
  urlFor(path: string): string;
  setResponder(r: Responder): void;
  /** Forgets recorded requests and per-path counts. */
  clear(): void;
  close(): Promise<void>;
}

const defaultResponder: Responder = () => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: '{}',
});

function flattenHeaders(raw: http.IncomingHttpHeaders): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

export interface ReceiverOptions {
  /** 0 (default) picks a free port; a given port lets a test bring a receiver back where it was. */
  port?: number;
  /** false: requests are not kept in `requests` (a long-running demo or bench must not grow). Default true. */
  record?: boolean;
  /** Idle keep-alive time of a connection (ms); node's default when unset. */
  keepAliveTimeoutMs?: number;
  /** Address to listen on; default 127.0.0.1 (0.0.0.0 in a container, where the bridge is another host). */
  host?: string;
}

export async function startReceiver(
  responder: Responder = defaultResponder,
  options: ReceiverOptions = {},
): Promise<Receiver> {
  const { port = 0, record: keep = true, host = '127.0.0.1' } = options;
  let current = responder;
  const requests: RecordedRequest[] = [];
  const countsByPath = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const receivedAtMs = Date.now();
    const chunks: Buffer[] = [];
    let recorded = false;

    const record = (): RecordedRequest | undefined => {
      if (recorded) return undefined;
      recorded = true;
      const entry: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: flattenHeaders(req.headers),
        body: Buffer.concat(chunks).toString('utf8'),
        receivedAtMs,
      };
      if (keep) requests.push(entry);
      return entry;
    };

    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A client that gives up mid-body still counts as a request that arrived.
    req.on('close', () => {
      if (!req.complete) record();
    });
    req.on('end', () => {
      const entry = record();
      if (!entry) return;
      const nth = (countsByPath.get(entry.path) ?? 0) + 1;
      countsByPath.set(entry.path, nth);
      let answer: ReturnType<Responder>;
      try {
        answer = current(entry, nth);
      } catch (err) {
        answer = { status: 500, body: `responder threw: ${err instanceof Error ? err.message : String(err)}` };
      }
      if (answer === 'hang') return;
      if (answer === 'destroy') {
        req.socket.destroy();
        return;
      }
      const { status, headers = {}, body = '', delayMs = 0 } = answer;
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, headers);
        res.end(body);
      };
      if (delayMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, delayMs);
        timers.add(timer);
      } else {
        send();
      }
    });
  });

  if (options.keepAliveTimeoutMs !== undefined) server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    requests,
    urlFor(path: string): string {
      return path.startsWith('/') ? `${url}${path}` : `${url}/${path}`;
    },
    setResponder(r: Responder): void {
      current = r;
    },
    clear(): void {
      requests.length = 0;
      countsByPath.clear();
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
