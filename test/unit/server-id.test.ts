import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/logger.js';
import { StateStore } from '../../src/outbox/state-store.js';
import { DERIVED_SERVER_ID_MAX, DERIVED_SERVER_ID_MIN, replicaServerId } from '../../src/source/server-id.js';

const log = createLogger('silent');

void describe('replicaServerId', () => {
  void it('draws one id per state directory, keeps it across restarts, and two directories differ', () => {
    const base = mkdtempSync(join(tmpdir(), 'ucw-sid-'));
    try {
      const ids = (dir: string): number => {
        const outbox = new StateStore({ stateDir: join(base, dir), synchronous: 'normal' });
        try {
          return replicaServerId(undefined, outbox, log);
        } finally {
          outbox.close();
        }
      };
      const a = ids('a');
      assert.ok(a >= DERIVED_SERVER_ID_MIN && a <= DERIVED_SERVER_ID_MAX, String(a));
      assert.equal(ids('a'), a, 'same state dir, same id');
      assert.notEqual(ids('b'), a);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  void it('an explicit --server-id wins and leaves the stored one alone', () => {
    const meta = new Map<string, string>();
    const store = { getMeta: (k: string) => meta.get(k), setMeta: (k: string, v: string) => void meta.set(k, v) };
    assert.equal(
      replicaServerId(undefined, store, log, () => DERIVED_SERVER_ID_MIN + 7),
      DERIVED_SERVER_ID_MIN + 7,
    );
    assert.equal(replicaServerId(48_151, store, log), 48_151);
    assert.equal(replicaServerId(undefined, store, log), DERIVED_SERVER_ID_MIN + 7);
  });

  void it('draws in the high half of the 32-bit range (clear of the usual small server ids)', () => {
    const seen: Array<[number, number]> = [];
    replicaServerId(undefined, { getMeta: () => undefined, setMeta: () => undefined }, log, (min, max) => {
      seen.push([min, max]);
      return min;
    });
    assert.deepEqual(seen, [[2 ** 31, 2 ** 32]]);
  });
});
