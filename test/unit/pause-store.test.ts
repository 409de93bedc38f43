// The port that keeps 410 Gone pauses across restarts, over a real state store: what is saved is
// loaded back; a missing, unreadable or malformed value costs at most an early probe, never a crash.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { GONE_PAUSES_META_KEY, outboxPauseStore } from '../../src/delivery/pause-store.js';
import { createLogger } from '../../src/logger.js';
import { StateStore } from '../../src/outbox/state-store.js';

void describe('outboxPauseStore', () => {
  let dir = '';
  let outbox: StateStore;
  let logs: Array<{ msg: string }>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-pause-store-'));
    outbox = new StateStore({ stateDir: dir, synchronous: 'normal' });
    logs = [];
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const store = () =>
    outboxPauseStore(
      outbox,
      createLogger('info', { write: (s: string) => void logs.push(JSON.parse(s) as { msg: string }) }),
    );

  void it('loads back what was saved; an empty save clears it', () => {
    const pause = { untilMs: 2_000, probeKey: 'agent:a', sinceMs: 1_000 };
    store().save(new Map([['https://a.example/hook', pause]]));
    assert.deepEqual([...store().load()], [['https://a.example/hook', pause]]);
    store().save(new Map());
    assert.equal(outbox.getMeta(GONE_PAUSES_META_KEY), '{}');
    assert.equal(store().load().size, 0);
  });

  void it(
    'skips entries without a time, tolerates a missing probe ' +
      'key and start, and ignores unreadable JSON with a warning',
    () => {
      outbox.setMeta(
        GONE_PAUSES_META_KEY,
        JSON.stringify({ a: { untilMs: 5 }, b: { probeKey: 'k' }, c: { untilMs: 'soon' } }),
      );
      assert.deepEqual([...store().load()], [['a', { untilMs: 5, probeKey: undefined, sinceMs: undefined }]]);
      outbox.setMeta(GONE_PAUSES_META_KEY, '{not json');
      assert.equal(store().load().size, 0);
      assert.deepEqual(
        logs.map((l) => l.msg),
        ['cannot read the saved 410 Gone pauses; ignoring them'],
      );
    },
  );
});
