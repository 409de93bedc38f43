// Routes of the admin API served beside /healthz, /readyz and /metrics: the status page, status as
// JSON and the write actions. Each route says its method and access; this module checks the token
// (admin-auth.ts), reads a JSON body (bounded) and writes the answer. Routes are built in app.ts
// (and the modules it wires) so this file stays free of bridge logic.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Access, AdminAuth } from './admin-auth.js';

const MAX_BODY_BYTES = 1024 * 1024;

export interface RouteRequest {
  readonly query: URLSearchParams;
  /** Parsed JSON body of a POST (undefined when empty). */
  readonly body: unknown;
}

export type RouteAnswer =
  { readonly status: number; readonly json: unknown } | { readonly status: number; readonly html: string };

export interface AdminRoute {
  readonly method: 'GET' | 'POST';
  /** Exact path, e.g. '/api/status'. */
  readonly path: string;
  readonly access: Access;
  handle(req: RouteRequest): Promise<RouteAnswer> | RouteAnswer;
}

/** A refusal a route handler throws to answer 4xx with a typed code instead of 500. */
export class RouteError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function write(res: ServerResponse, answer: RouteAnswer, extra: Record<string, string> = {}): void {
  const isHtml = 'html' in answer;
  const text = isHtml ? answer.html : JSON.stringify(answer.json);
  res.writeHead(answer.status, {
    'content-type': isHtml ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...(isHtml
      ? {
          'content-security-policy':
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'",
        }
      : {}),
    ...extra,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RouteError(413, 'body_too_large', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new RouteError(400, 'bad_json', 'the body is not JSON');
  }
}

/** False when a browser sent the request from another site's page (its Origin is not this server). */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin.toLowerCase() === `http://${(req.headers.host ?? '').toLowerCase()}`;
}

/** True for `application/json` (any parameters): a cross-site form cannot send it without CORS. */
function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return typeof type === 'string' && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/** True when `path` is an admin route (answered here, whatever the outcome). */
export async function serveAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  routes: readonly AdminRoute[],
  auth: AdminAuth,
): Promise<boolean> {
  const forPath = routes.filter((r) => r.path === path);
  if (forPath.length === 0) return false;
  const route = forPath.find((r) => r.method === req.method);
  if (!route) {
    write(
      res,
      { status: 405, json: { error: 'method_not_allowed' } },
      { allow: forPath.map((r) => r.method).join(', ') },
    );
    return true;
  }
  // CSRF: a browser holding cached Basic credentials must not act for another site's page.
  if (!sameOrigin(req)) {
    write(res, { status: 403, json: { error: 'cross_origin', message: 'requests from another origin are refused' } });
    return true;
  }
  if (route.method === 'POST' && !isJson(req)) {
    write(res, {
      status: 415,
      json: { error: 'unsupported_media_type', message: 'a POST must be content-type: application/json' },
    });
    return true;
  }
  if (!auth.allows(req, route.access)) {
    // Basic lets a browser ask for the token; scripts send `Authorization: Bearer <token>`.
    write(
      res,
      { status: 401, json: { error: 'unauthorized' } },
      { 'www-authenticate': 'Basic realm="ucontact-webhooks"' },
    );
    return true;
  }
  try {
    const body = route.method === 'POST' ? await readBody(req) : undefined;
    write(res, await route.handle({ query, body }));
  } catch (err) {
    if (!(err instanceof RouteError)) throw err;
    write(res, { status: err.status, json: { error: err.code, message: err.message } });
  }
  return true;
}
