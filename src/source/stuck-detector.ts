// Tells a deterministic stream failure from a transient one. Invariant: the same error (code and
// message) ending streams that started at the same checkpoint position STUCK_REPEATS times in a row
// is stuck; any other outcome in between (another error or position, a failure before streaming)
// starts the count over. Pure.

import type { BinlogPosition } from '../domain/row-change.js';
import { BridgeError } from '../errors.js';

export const STUCK_REPEATS = 5;

export class StuckDetector {
  private key: string | undefined;
  private repeats = 0;

  constructor(private readonly limit = STUCK_REPEATS) {}

  /** A failure that is not a stream failing at a position (connect, preflight, a dropped connection). */
  other(): void {
    this.key = undefined;
    this.repeats = 0;
  }

  /** A stream started at `from` ended with `err`: the fatal error to stop with once it repeats `limit` times. */
  failed(from: BinlogPosition, err: BridgeError): BridgeError | undefined {
    const key = JSON.stringify([from.file, from.pos, err.code, err.message]);
    this.repeats = key === this.key ? this.repeats + 1 : 1;
    this.key = key;
    if (this.repeats < this.limit) return undefined;
    const at = `${from.file}:${from.pos}`;
    return new BridgeError(
      'UCW_ERR_SOURCE_STUCK',
      `the binlog stream failed ${this.repeats} times in a row from ` +
        `checkpoint ${at} with the same error (${err.code}: ${err.message})`,
      {
        hint:
          'Retrying from the same position cannot help: the binlog after it holds ' +
          'something the bridge cannot read or process (see docs/errors.md, ' +
          'UCW_ERR_SOURCE_STUCK). Nothing was skipped; fix the cause and restart.',
        details: { position: at, repeated: err.code },
        cause: err,
      },
    );
  }
}
