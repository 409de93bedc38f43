// One UPDATE of 100,000 rows of a directory table (ccdata.users), read in parts with a small
// --max-queued-rows: its mirror changes are staged in the store (not held in memory), none reaches
// the mirror before the commit, a SIGKILL mid-transaction drops them, and after the commit (read
// again after the restart, and once more uninterrupted) the directory and the store are right.

import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OUTBOX_FILE } from '../../src/outbox/state-store.js';
import type { BridgeProcess } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import type { Receiver } from '../../demo/receiver.js';
import { queueLog, setUrl, type SourceFixture } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { metric } from '../helpers/metrics-text.js';

const USERS = 100_000;
// --max-queued-rows 400 makes parts of 100 rows: the UPDATE arrives in about 1,000 parts.
const ARGS = ['--log-level', 'info', '--max-queued-rows', '400'];
const USER_ROWS = '{table="ccdata.users"}';

/** Users rows in the store named with `prefix`, and rows in mirror_staged. */
function storeCounts(stateDir: string, prefix: string): { named: number; users: number; staged: number } {
  const db = new Database(join(stateDir, OUTBOX_FILE), { readonly: true });
  try {
    const count = (sql: string, ...params: string[]): number =>
      db
        .prepare(sql)
        .pluck()
        .get(...params) as number;
    return {
      named: count(
        "SELECT COUNT(*) FROM mirror_rows WHERE tbl = 'ccdata.users' AND json_extract(row, '$.name') LIKE ?",
        `${prefix}%`,
      ),
      users: count("SELECT COUNT(*) FROM mirror_rows WHERE tbl = 'ccdata.users'"),
      staged: count('SELECT COUNT(*) FROM mirror_staged'),
    };
  } finally {
    db.close();
  }
}

let second = 0;
async function fullNameOf(src: SourceFixture, rx: Receiver, agent: string): Promise<unknown> {
  const before = rx.requests.length;
  second += 1;
  await src.tx(
    queueLog({
      time: `2026-03-02 14:05:${String(second).padStart(2, '0')}.000`,
      event: 'RINGNOANSWER',
      callid: `c${second}`,
      agent,
      data1: '15000',
    }),
  );
  await waitFor(() => rx.requests.length > before, { message: `no event for ${agent}`, timeoutMs: 60_000 });
  return (JSON.parse(rx.requests[before]!.body) as { agentFullName: unknown }).agentFullName;
}

async function allRowsRead(bridge: BridgeProcess, total: number): Promise<void> {
  await waitFor(async () => (await metric(bridge.httpPort(), 'ucw_source_row_changes_total', USER_ROWS)) >= total, {
    timeoutMs: 120_000,
    intervalMs: 100,
    message: `not all ${total} users row changes were read`,
  });
}

void describe('faults: a 100,000-row transaction on a directory table', () => {
  const env = useIntegrationEnv();

  void test(
    'staged in the store; killed mid-way nothing is ' + 'applied; after the commit the directory is right',
    async (t) => {
      const { src, rx } = env;
      await src.reset();
      await src.admin.query(
        `INSERT INTO ccdata.users (username, phone, name) SELECT CONCAT('u', seq), ` +
          `CAST(100000 + seq AS CHAR), CONCAT('User ', seq) FROM ccdata.seq_1_to_${USERS}`,
      );
      await src.tx(setUrl('AgentRingNoAnswer', rx.urlFor('/ring')));
      rx.clear();
      const stateDir = src.stateDir();
      const first = env.startBridge({ stateDir, args: ARGS });
      await first.waitReady();

      await src.admin.query("UPDATE ccdata.users SET name = CONCAT('Renamed ', username)");
      const seen = await waitFor(
        async () => {
          const n = await metric(first.httpPort(), 'ucw_source_row_changes_total', USER_ROWS);
          return n >= 5_000 ? n : undefined;
        },
        { intervalMs: 5, message: 'no part was processed' },
      );
      assert.equal(await first.kill(), null);
      assert.ok(seen < USERS, `the whole transaction was processed before the kill (${seen} rows)`);
      const killed = storeCounts(stateDir, 'Renamed ');
      t.diagnostic(
        `killed after ${seen} of ${USERS} rows: ${killed.staged} mirror changes staged, ${killed.named} applied`,
      );
      assert.equal(killed.named, 0, 'a mirror change of an uncommitted transaction reached mirror_rows');
      assert.ok(killed.staged > 0, 'the mirror changes read so far were not staged in the store');

      const restarted = env.startBridge({ stateDir, args: ARGS });
      await restarted.waitReady();
      await allRowsRead(restarted, USERS);
      assert.equal(await fullNameOf(src, rx, 'SIP/177777'), 'Renamed u77777');

      // The same again, uninterrupted.
      await src.admin.query("UPDATE ccdata.users SET name = CONCAT('Again ', username)");
      await allRowsRead(restarted, 2 * USERS);
      assert.equal(await fullNameOf(src, rx, 'u123'), 'Again u123');
      assert.equal(await restarted.stop(), 0);
      assert.deepEqual(storeCounts(stateDir, 'Again '), { named: USERS, users: USERS, staged: 0 });
    },
  );
});
