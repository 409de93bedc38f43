// `deliveries discard --url U` with no bridge running: the way out for a receiver that is gone for good.
// Its pending backlog is marked cancelled (kept for audit, never sent), other URLs are untouched, the URL
// is printed without its credentials or query. While a process holds the state directory the command goes
// to that bridge's admin API instead (test/integration/deliveries.test.ts), never to the store; a holder
// that published no admin API is reported, nothing changed.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DeliveryStatus, StateStore, type EnqueuedEvent } from '../../src/outbox/state-store.js';
import { runCli } from '../helpers/bridge-process.js';

const A = 'http://a.test/hook';
const B = 'http://b.test/hook';
const OFFLINE = 'in the state store (no bridge running)';
const SECRET_URL = 'http://user:s3cr3t-pass@c.test/hook?token=s3cr3t-token';

let pos = 4;
const ev = (id: string, urls: string[]): EnqueuedEvent => ({
  id,
  name: 'AgentLog',
  orderKey: `agent:${id}`,
  occurredAtMs: 0,
  body: '{}',
  urls,
  source: { file: 'binlog.000001', pos: pos++ },
});

/** Status of every delivery of the store, by URL, read without taking the lock. */
function statuses(stateDir: string): Record<string, number[]> {
  const store = new StateStore({ stateDir, synchronous: 'normal', readonly: true });
  try {
    const out: Record<string, number[]> = {};
    for (let id = 1; ; id++) {
      const d = store.delivery(id);
      if (!d) break;
      (out[d.url] ??= []).push(d.status);
    }
    return out;
  } finally {
    store.close();
  }
}

void describe('deliveries discard', () => {
  let stateDir = '';
  before(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'ucw-discard-'));
    const store = new StateStore({ stateDir, synchronous: 'normal' });
    store.commit({
      events: [ev('1', [A, B]), ev('2', [A]), ev('3', [SECRET_URL])],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos: 100 },
    });
    store.close();
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  void it('cancels the pending deliveries of that URL only, keeping them in the store', async () => {
    const r = await runCli(['deliveries', 'discard', '--url', A, '--state-dir', stateDir]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `discarded 2 pending deliveries of ${A} (kept as cancelled, never sent), ${OFFLINE}\n`);
    const { cancelled, pending } = DeliveryStatus;
    assert.deepEqual(statuses(stateDir), { [A]: [cancelled, cancelled], [B]: [pending], [SECRET_URL]: [pending] });
    const again = await runCli(['deliveries', 'discard', '--url', A, '--state-dir', stateDir]);
    assert.equal(again.stdout, `discarded 0 pending deliveries of ${A} (kept as cancelled, never sent), ${OFFLINE}\n`);
  });

  void it('prints a URL without its credentials or query string', async () => {
    const r = await runCli(['deliveries', 'discard', '--url', SECRET_URL, '--state-dir', stateDir]);
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      `discarded 1 pending deliveries of http://c.test/hook?[redacted] (kept as cancelled, never sent), ${OFFLINE}\n`,
    );
    assert.doesNotMatch(r.stdout + r.stderr, /s3cr3t/);
  });

  void it('another process holds the state dir and published no admin API: refused, nothing changed', async () => {
    const running = new StateStore({ stateDir, synchronous: 'normal' });
    try {
      const r = await runCli(['deliveries', 'discard', '--url', B, '--state-dir', stateDir]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^ucontact-webhooks: UCW_ERR_ADMIN_UNREACHABLE: /);
    } finally {
      running.close();
    }
    assert.deepEqual(statuses(stateDir)[B], [DeliveryStatus.pending]);
  });

  void it('requires --url (exit 2, nothing changed)', async () => {
    const r = await runCli(['deliveries', 'discard', '--state-dir', stateDir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ucontact-webhooks: UCW_ERR_CONFIG_INVALID: --url is required\n/);
    assert.deepEqual(statuses(stateDir)[B], [DeliveryStatus.pending]);
  });
});
