// A read-only store (`dead-letters list`) changes nothing: no migration, no recovery of staged work,
// no write to the database file, and it reads what a writer beside it commits (WAL).

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { BridgeError } from '../../src/errors.js';
import { DeliveryStatus, StateStore, OUTBOX_FILE, type EnqueuedEvent } from '../../src/outbox/state-store.js';

const T0 = Date.UTC(2026, 2, 2, 14, 0, 0);

const event = (id: string, pos: number): EnqueuedEvent => ({
  id,
  name: 'AgentLog',
  orderKey: 'agent:jdoe',
  occurredAtMs: T0,
  body: '{"event":"AgentLog"}',
  urls: ['https://a.example/'],
  source: { file: 'binlog.000001', pos },
});

void describe('StateStore, read-only', () => {
  let dir = '';
  const opened: StateStore[] = [];
  const open = (readonly: boolean): StateStore => {
    const o = new StateStore({ stateDir: dir, synchronous: 'normal', now: () => T0, readonly });
    opened.push(o);
    return o;
  };
  const file = (): string => join(dir, OUTBOX_FILE);
  const fingerprint = (): string => {
    const st = statSync(file());
    return `${st.mtimeMs} ${st.size} ${createHash('sha256').update(readFileSync(file())).digest('hex')}`;
  };
  const rawStaged = (): number => {
    const db = new Database(file(), { readonly: true });
    try {
      return db
        .prepare(`SELECT COUNT(*) FROM deliveries WHERE status = ${DeliveryStatus.staged}`)
        .pluck()
        .get() as number;
    } finally {
      db.close();
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-ro-'));
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  void it("leaves a running writer's staged rows alone and reads what it commits", () => {
    const writer = open(false);
    writer.commit({ events: [event('c1', 1)], mirror: [], checkpoint: { file: 'binlog.000001', pos: 1 } });
    const [dead] = writer.commit({
      events: [event('d1', 2)],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos: 2 },
    });
    writer.markDead(dead!.id, 500, 'boom', T0);
    writer.flushOutcomes();
    writer.stage([event('s1', 3), event('s2', 3)]);

    const reader = open(true);
    assert.deepEqual(
      reader.deadLetters(10).map((d) => d.eventId),
      ['d1'],
    );
    assert.deepEqual(reader.counts(), { pending: 1, delivered: 0, dead: 1 });
    reader.close();
    assert.equal(rawStaged(), 2, 'the staged part of the open transaction is still there');

    const promoted = writer.commit({
      events: [event('s3', 4)],
      mirror: [],
      checkpoint: { file: 'binlog.000001', pos: 4 },
    });
    assert.equal(promoted.length, 1);
    assert.deepEqual(open(true).counts(), { pending: 4, delivered: 0, dead: 1 });
  });

  void it("writes nothing to a stopped bridge's store, staged rows included, and refuses to write", () => {
    const writer = open(false);
    writer.commit({ events: [event('c1', 1)], mirror: [], checkpoint: { file: 'binlog.000001', pos: 1 } });
    writer.stage([event('s1', 2)]);
    writer.close();
    opened.length = 0;
    const before = fingerprint();

    const reader = open(true);
    assert.deepEqual(reader.counts(), { pending: 1, delivered: 0, dead: 0 });
    assert.throws(
      () => reader.requeueDead(),
      (err: unknown) => (err as { code?: string }).code === 'SQLITE_READONLY',
    );
    reader.close();
    assert.equal(fingerprint(), before, 'outbox.sqlite unchanged (mtime, size, content)');
    assert.equal(rawStaged(), 1);
  });

  void it('does not migrate an old-version store, and creates nothing where there is no store', () => {
    const raw = new Database(file());
    raw.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      INSERT INTO meta VALUES ('schema_version', '1');`);
    raw.close();
    const before = fingerprint();
    assert.throws(
      () => open(true),
      (err: unknown) =>
        err instanceof BridgeError && err.code === 'UCW_ERR_OUTBOX_OPEN' && /schema version 1/.test(err.message),
    );
    assert.equal(fingerprint(), before);

    const missing = join(dir, 'nothing-here');
    assert.throws(
      () => new StateStore({ stateDir: missing, synchronous: 'normal', readonly: true }),
      (err: unknown) => err instanceof BridgeError && err.code === 'UCW_ERR_OUTBOX_OPEN',
    );
    assert.equal(existsSync(missing), false);
  });
});
