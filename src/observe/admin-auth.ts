// Who may use the admin API on the health port. Reads (status page, GET /api/*) are open while the
// server listens on loopback only and the Host header names loopback (DNS rebinding); otherwise they
// need the token. Writes always need it. Tokens: --admin-token, and the one the bridge generates
// into its state dir for the local CLI.
// Compared in constant time (digests of equal length), never logged.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

export type Access = 'read' | 'write';

/** True when `host` can only be reached from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * True when a Host header names this machine (`localhost`, 127.x.x.x, [::1], optional port). A page
 * whose own name was rebound to 127.0.0.1 sends its name here, so it is refused a token-free read.
 */
export function isLoopbackHostHeader(header: string | undefined): boolean {
  if (header === undefined) return false;
  const bracketed = /^(\[[^\]]*\])(?::\d+)?$/.exec(header);
  if (bracketed) return isLoopbackHost(bracketed[1]!);
  const plain = /^([^:[\]]+)(?::\d+)?$/.exec(header);
  return plain !== null && isLoopbackHost(plain[1]!);
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The token a request carries: `Authorization: Bearer T`, or Basic with T as the password (browsers). */
export function presentedToken(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const [scheme, value] = header.split(' ', 2);
  if (!value) return undefined;
  if (scheme?.toLowerCase() === 'bearer') return value.trim();
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value.trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) : undefined;
  }
  return undefined;
}

export class AdminAuth {
  private readonly digests: Buffer[];

  /** `tokens`: every accepted token (empty strings ignored). `loopbackOnly`: the server's bind. */
  constructor(
    tokens: readonly string[],
    private readonly loopbackOnly: boolean,
  ) {
    this.digests = tokens.filter((t) => t !== '').map(digest);
  }

  /** False when the request needs a token and carries none of the accepted ones (answer 401). */
  allows(req: Pick<IncomingMessage, 'headers'>, access: Access): boolean {
    if (access === 'read' && this.loopbackOnly && isLoopbackHostHeader(req.headers.host)) return true;
    const token = presentedToken(req);
    if (token === undefined) return false;
    const d = digest(token);
    // Every digest is compared, so the time taken does not tell which token matched.
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(d, known) || ok;
    return ok;
  }
}
