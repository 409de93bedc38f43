// Standard Webhooks v1 signing: `webhook-signature` = space-separated `v1,<base64 HMAC-SHA256>` over
// "<id>.<timestampSec>.<body>", one entry per configured secret (several = key rotation).
// Invariant: secrets are validated once, up front, and never appear in any message or log.

import { createHmac } from 'node:crypto';
import { BridgeError } from '../errors.js';

export interface Signer {
  /** The `webhook-signature` header value for exactly these body bytes. */
  sign(id: string, timestampSec: number, body: string): string;
}

/** Prefix of Standard Webhooks / Svix secrets; what follows is the base64 key. */
const SECRET_PREFIX = 'whsec_';

// Strict standard base64 (RFC 4648 section 4), padding optional. Buffer.from(..., 'base64') silently
// skips bad characters, so a typo would otherwise yield a different key and signatures nobody can verify.
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length === 0 || !BASE64_RE.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  // A single leftover character cannot encode a whole byte.
  if (unpadded.length % 4 === 1) return undefined;
  // Padding, when present, must bring the length to a multiple of 4.
  if (unpadded.length !== text.length && text.length % 4 !== 0) return undefined;
  return Buffer.from(unpadded, 'base64');
}

/** Key bytes of one secret; `position` (1-based) identifies it in errors without revealing it. */
function keyOf(secret: string, position: number): Buffer {
  if (secret.length === 0) {
    throw new BridgeError('UCW_ERR_CONFIG_INVALID', `signing secret #${position} is empty`, {
      hint: 'Remove the empty entry or set a secret such as whsec_<base64 key>.',
    });
  }
  if (!secret.startsWith(SECRET_PREFIX)) return Buffer.from(secret, 'utf8');
  const key = decodeBase64Strict(secret.slice(SECRET_PREFIX.length));
  if (key === undefined || key.length === 0) {
    throw new BridgeError(
      'UCW_ERR_CONFIG_INVALID',
      `signing secret #${position} starts with "${SECRET_PREFIX}" but the rest is not valid base64`,
      {
        hint:
          `After "${SECRET_PREFIX}" put the key encoded as standard base64 (A-Z a-z ` +
          `0-9 + / and = padding), or drop the prefix to use the text itself as the key.`,
      },
    );
  }
  return key;
}

/** How many key bytes a secret gives (throws the same errors as createSigner for a bad one). */
export function secretKeyBytes(secret: string): number {
  return keyOf(secret, 1).length;
}

/** Undefined when no secret is configured: deliveries then go out unsigned. */
export function createSigner(secrets: readonly string[]): Signer | undefined {
  if (secrets.length === 0) return undefined;
  const keys = secrets.map((secret, i) => keyOf(secret, i + 1));
  return {
    sign(id: string, timestampSec: number, body: string): string {
      const content = `${id}.${timestampSec}.${body}`;
      return keys.map((key) => `v1,${createHmac('sha256', key).update(content, 'utf8').digest('base64')}`).join(' ');
    },
  };
}
