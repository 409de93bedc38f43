// The store keeps only the columns the rules read: a column no rule reads (users.password_hash here)
// never reaches mirror_rows, neither from the first-run snapshot nor from the binlog, and a store
// written by an older bridge with whole rows is reduced once on start. Events still resolve the
// directory values the rules do read.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OUTBOX_FILE } from '../../src/outbox/state-store.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import type { Receiver } from '../../demo/receiver.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const MIRROR_REDUCED = 'stored mirror rows reduced to the columns the rules read';

interface MirrorRow {
  tbl: string;
  pk: string;
  row: string;
}

function mirrorRows(stateDir: string): MirrorRow[] {
  const db = new Database(join(stateDir, OUTBOX_FILE), { readonly: true });
  try {
    return db.prepare('SELECT tbl, pk, row FROM mirror_rows ORDER BY tbl, pk').all() as MirrorRow[];
  } finally {
    db.close();
  }
}

/** Asserts no mirrored row holds a password hash (the column or a value), and which columns users keep. */
function assertNoHashes(rows: readonly MirrorRow[]): void {
  const leaked = rows.filter((r) => r.row.includes('password_hash') || r.row.includes('HASH-'));
  assert.deepEqual(leaked, [], 'a password hash reached the store');
  for (const r of rows.filter((x) => x.tbl === 'ccdata.users')) {
    assert.deepEqual(Object.keys(JSON.parse(r.row) as object).sort(), ['name', 'phone', 'username'], r.row);
  }
  for (const r of rows.filter((x) => x.tbl === 'ccdata.webhooks')) {
    assert.deepEqual(Object.keys(JSON.parse(r.row) as object).sort(), ['event', 'id', 'url'], r.row);
  }
}

async function ringNoAnswer(src: SourceFixture, rx: Receiver, agents: readonly string[]): Promise<string[]> {
  const before = rx.requests.length;
  for (const [i, agent] of agents.entries()) {
    await src.tx(
      queueLog({
        time: `2026-03-02 14:05:0${i}.000`,
        event: 'RINGNOANSWER',
        callid: `c-${agent}`,
        queuename: 'Sales<-',
        agent,
        data1: '15000',
      }),
    );
  }
  await waitFor(() => rx.requests.length === before + agents.length, {
    message: () => `${rx.requests.length - before}/${agents.length} events`,
  });
  return rx.requests.slice(before).map((r) => {
    const b = JSON.parse(r.body) as { agent: string; agentNumber: string | null; agentFullName: string | null };
    return `${b.agent}|${b.agentNumber}|${b.agentFullName}`;
  });
}

void describe('the store keeps only the columns the rules read', () => {
  const env = useIntegrationEnv();

  void test(
    'snapshot and binlog rows of users are stored ' + 'without password_hash; events use the directory',
    async () => {
      const { src, rx } = env;
      await src.reset();
      await src.admin.query('ALTER TABLE ccdata.users ADD COLUMN IF NOT EXISTS password_hash VARCHAR(100) NULL');
      await src.tx(
        'INSERT INTO ccdata.users (username, phone, name, email, password_hash) ' +
          "VALUES ('jdoe', '2001', 'Jane Doe', 'j@example.com', 'HASH-jdoe-1')",
        setUrl('AgentRingNoAnswer', rx.urlFor('/ring')),
      );
      rx.clear();
      const stateDir = src.stateDir();
      const bridge = env.startBridge({ stateDir });
      await bridge.waitReady();
      await src.tx(
        'INSERT INTO ccdata.users (username, phone, name, password_hash) ' +
          "VALUES ('mlopez', '2003', 'María López', 'HASH-mlopez-1')",
        "UPDATE ccdata.users SET name = 'Jane Q. Doe', password_hash = 'HASH-jdoe-2' WHERE username = 'jdoe'",
      );
      assert.deepEqual(await ringNoAnswer(src, rx, ['SIP/2001', 'mlopez']), [
        'jdoe|2001|Jane Q. Doe',
        'mlopez|2003|María López',
      ]);
      assert.equal(await bridge.stop(), 0);
      const rows = mirrorRows(stateDir);
      assert.deepEqual(
        rows.filter((r) => r.tbl === 'ccdata.users').map((r) => r.pk),
        ['jdoe', 'mlopez'],
      );
      assertNoHashes(rows);
    },
  );

  void test('a store holding whole rows (older bridge) is reduced on start, once', async () => {
    const { src, rx } = env;
    await src.reset();
    await src.admin.query('ALTER TABLE ccdata.users ADD COLUMN IF NOT EXISTS password_hash VARCHAR(100) NULL');
    await src.tx(
      'INSERT INTO ccdata.users (username, phone, name, ' +
        "password_hash) VALUES ('ana', '301', 'Ana Núñez', 'HASH-ana-1')",
      setUrl('AgentRingNoAnswer', rx.urlFor('/ring')),
    );
    rx.clear();
    const stateDir = src.stateDir();
    const first = env.startBridge({ stateDir });
    await first.waitReady();
    assert.equal(await first.stop(), 0);
    // What an older bridge wrote: whole rows, a column no rule reads included.
    const db = new Database(join(stateDir, OUTBOX_FILE));
    db.prepare(
      "UPDATE mirror_rows SET row = json_set(row, '$.password_hash', " +
        "'HASH-legacy', '$.email', 'a@example.com') WHERE tbl = 'ccdata.users'",
    ).run();
    db.prepare(
      "UPDATE mirror_rows SET row = json_set(row, '$.description', 'legacy') WHERE tbl = 'ccdata.webhooks'",
    ).run();
    db.close();
    assert.ok(mirrorRows(stateDir).some((r) => r.row.includes('HASH-legacy')));

    const second = env.startBridge({ stateDir });
    await second.waitReady();
    const reduced = await second.waitForLog((l) => l.msg === MIRROR_REDUCED, 'mirror reduced log');
    assert.deepEqual(reduced.rows, { 'ccdata.users': 1, 'ccdata.webhooks': 6 });
    assert.deepEqual(await ringNoAnswer(src, rx, ['SIP/301']), ['ana|301|Ana Núñez']);
    assert.equal(await second.stop(), 0);
    assertNoHashes(mirrorRows(stateDir));

    const third = env.startBridge({ stateDir });
    await third.waitReady();
    assert.equal(await third.stop(), 0);
    assert.equal(third.logs.filter((l) => l.msg === MIRROR_REDUCED).length, 0, 'rewritten once only');
  });
});
