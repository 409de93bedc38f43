// The demo traffic simulator against a private MariaDB with the reference schema: it seeds the
// directory, writes every kind of row the default rules turn into events (and the shapes those
// rules expect), stops cleanly, and replays the same choices from the same seed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { ContactCenterSimulator } from '../../demo/simulator.js';
import {
  findMariaDbBinaries,
  MARIADB_MISSING_HINT,
  startPrivateMariaDb,
  type PrivateMariaDb,
} from '../../demo/mariadb.js';
import { REFERENCE_SCHEMA_SQL } from '../../demo/reference-schema.js';
import { waitFor } from '../helpers/wait-for.js';

const FAST_TICK_MS = 50;
const SEED = 42;
/** Row kinds that must all appear before the run is stopped (stats keys). */
const REQUIRED_KINDS = [
  'AGENTLOGIN',
  'PAUSE',
  'UNPAUSE',
  'ENTERQUEUE',
  'RINGNOANSWER',
  'interactions.start',
  'interactions.finish',
  'interactions.disposition',
] as const;

type Rows = mysql.RowDataPacket[];

void describe('ContactCenterSimulator', () => {
  let db: PrivateMariaDb | undefined;
  let conn: mysql.Connection | undefined;
  const q = async (sql: string, params: unknown[] = []): Promise<Rows> => {
    assert.ok(conn, 'no connection');
    const [rows] = await conn.query<Rows>(sql, params);
    return rows;
  };
  const count = async (sql: string): Promise<number> => Number((await q(sql))[0]?.['n'] ?? 0);

  before(async () => {
    assert.ok(findMariaDbBinaries(), MARIADB_MISSING_HINT);
    db = await startPrivateMariaDb();
    await db.exec(REFERENCE_SCHEMA_SQL);
    conn = await mysql.createConnection({ uri: db.adminUrl, charset: 'utf8mb4', dateStrings: true });
  });

  after(async () => {
    await conn?.end();
    await db?.stop();
  });

  void it('seeds agents and a 3-level disposition tree, idempotently', async () => {
    assert.ok(db);
    const sim = new ContactCenterSimulator({ adminUrl: db.adminUrl, agents: 4, seed: SEED, log: () => undefined });
    try {
      await sim.seedDirectory();
      await sim.seedDirectory();
    } finally {
      await sim.stop();
    }
    const users = await q('SELECT username, phone, name FROM ccdata.users ORDER BY phone');
    assert.equal(users.length, 4);
    assert.deepEqual({ ...users[0] }, { username: 'jperez', phone: '2001', name: 'José Pérez' });
    for (const u of users) {
      assert.match(String(u['username']), /^[a-z0-9]+$/);
      assert.match(String(u['phone']), /^\d{4}$/);
    }

    const tree = await q('SELECT id, parentId, value, validAsFinal, parentIds FROM ccdata.dispositions ORDER BY id');
    const byId = new Map(tree.map((r) => [Number(r['id']), r]));
    const hasChild = new Set(tree.map((r) => Number(r['parentId'])));
    const labelPath = (id: number): string[] => {
      const out: string[] = [];
      for (let r = byId.get(id); r; r = byId.get(Number(r['parentId']))) out.unshift(String(r['value']));
      return out;
    };
    assert.ok(tree.length > 0, 'a second seed must not duplicate the tree, but the first must write it');
    assert.equal(
      tree.filter((r) => r['value'] === 'Sale' && Number(r['parentId']) === 0).length,
      1,
      'tree seeded once',
    );
    const paid = tree.find((r) => r['value'] === 'Paid');
    assert.ok(paid);
    assert.deepEqual(labelPath(Number(paid['id'])), ['Sale', 'Closed', 'Paid']);
    for (const r of tree) {
      const id = Number(r['id']);
      const ancestors = labelPath(id).length - 1;
      assert.equal(Number(r['validAsFinal']), hasChild.has(id) ? 0 : 1, `validAsFinal of ${String(r['value'])}`);
      assert.equal(
        String(r['parentIds'] ?? '')
          .split(',')
          .filter(Boolean).length,
        ancestors,
        `parentIds of ${String(r['value'])}`,
      );
    }
  });

  void it('writes every kind of row the default rules turn into events, then stops cleanly', async () => {
    assert.ok(db);
    const lines: string[] = [];
    const sim = new ContactCenterSimulator({
      adminUrl: db.adminUrl,
      agents: 4,
      tickMs: FAST_TICK_MS,
      seed: SEED,
      log: (l) => lines.push(l),
    });
    await sim.seedDirectory();
    sim.start();
    sim.start(); // a second start must not double the loop
    try {
      await waitFor(
        () => {
          const s = sim.stats;
          const digital = (s['interactions.webchat'] ?? 0) + (s['interactions.whatsapp'] ?? 0);
          return REQUIRED_KINDS.every((k) => (s[k] ?? 0) > 0) && digital > 0;
        },
        { timeoutMs: 30_000, message: () => `stats so far: ${JSON.stringify(sim.stats)}` },
      );
    } finally {
      await sim.stop();
    }
    const stats = sim.stats;
    assert.equal(stats['errors'] ?? 0, 0, `step errors: ${lines.join('\n')}`);

    // Stopped means stopped: no row is written after stop() resolved.
    const before = await count('SELECT COUNT(*) AS n FROM ccrepo.queue_log_repo');
    await new Promise((resolve) => setTimeout(resolve, FAST_TICK_MS * 4));
    assert.equal(await count('SELECT COUNT(*) AS n FROM ccrepo.queue_log_repo'), before);
    await sim.stop(); // idempotent

    const events = await q('SELECT event, COUNT(*) AS n FROM ccrepo.queue_log_repo GROUP BY event');
    const byEvent = Object.fromEntries(events.map((r) => [String(r['event']), Number(r['n'])]));
    for (const e of ['AGENTLOGIN', 'PAUSE', 'UNPAUSE', 'ENTERQUEUE', 'RINGNOANSWER']) {
      assert.ok((byEvent[e] ?? 0) > 0, `no ${e} row: ${JSON.stringify(byEvent)}`);
      assert.equal(byEvent[e], stats[e], `stats count for ${e}`);
    }

    // Logins and breaks name the agent by username; every break reason comes back on UNPAUSE.
    const agentRows = await q(
      'SELECT DISTINCT q.agent FROM ccrepo.queue_log_repo q LEFT JOIN ccdata.users u ON u.username = q.agent ' +
        "WHERE q.event IN ('AGENTLOGIN', 'AGENTLOGOFF', 'PAUSE', 'UNPAUSE') AND u.username IS NULL",
    );
    assert.deepEqual(agentRows, [], 'agent activity rows whose agent is not a username');
    assert.equal(
      await count("SELECT COUNT(*) AS n FROM ccrepo.queue_log_repo WHERE event = 'PAUSE' AND COALESCE(data1, '') = ''"),
      0,
    );

    // RINGNOANSWER: channel-style agent resolving to a user by extension, ring time, and an
    // ENTERQUEUE with the caller number for the same callid, written no later.
    const rna = await q(
      `SELECT r.agent, r.data1, r.queuename, r.time AS rnaTime, e.time AS enterTime, e.data2 AS caller, u.username
         FROM ccrepo.queue_log_repo r
         LEFT JOIN ccrepo.queue_log_repo e ON e.callid = r.callid AND e.event = 'ENTERQUEUE'
         LEFT JOIN ccdata.users u ON CONCAT(SUBSTRING_INDEX(r.agent, '/', 1), '/', u.phone) = r.agent
        WHERE r.event = 'RINGNOANSWER'`,
    );
    for (const r of rna) {
      assert.match(String(r['agent']), /^(SIP|PJSIP)\/\d+$/);
      assert.ok(r['username'], `RINGNOANSWER agent ${String(r['agent'])} matches no users.phone`);
      assert.match(String(r['data1']), /^\d+$/);
      assert.match(String(r['queuename']), /<-$/);
      assert.match(String(r['caller']), /^5989\d{7}$/);
      assert.ok(String(r['enterTime']) <= String(r['rnaTime']), 'ENTERQUEUE after RINGNOANSWER');
    }
    assert.equal(
      await count("SELECT COUNT(DISTINCT callid) AS n FROM ccrepo.queue_log_repo WHERE event = 'ENTERQUEUE'"),
      byEvent['ENTERQUEUE'],
    );

    // Times are UTC, with milliseconds, and close to now.
    const [span] = await q('SELECT MAX(time) AS latest, UTC_TIMESTAMP(3) AS utcNow FROM ccrepo.queue_log_repo');
    const skewMs = Math.abs(Date.parse(`${String(span?.['utcNow'])}Z`) - Date.parse(`${String(span?.['latest'])}Z`));
    assert.ok(
      skewMs < 60_000,
      `queue_log times are not UTC: latest ${String(span?.['latest'])} vs ${String(span?.['utcNow'])}`,
    );
    assert.match(String(span?.['latest']), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    // Rows are written as things happen: no row is dated before one committed earlier.
    const backwards = await count(
      `SELECT COUNT(*) AS n FROM ccrepo.queue_log_repo a JOIN ` +
        `ccrepo.queue_log_repo b ON b.id = a.id + 1 WHERE b.time < a.time`,
    );
    assert.equal(backwards, 0, 'queue_log_repo times go backwards');

    // Telephony legs: finished with an end date, and dispositioned with a final disposition whose
    // dispositionIds is the path down to it; the caller number is the clientId.
    assert.ok(
      (await count(
        'SELECT COUNT(*) AS n FROM ccrepo.interactions WHERE channel ' +
          "= 'telephony' AND finished = 1 AND end_date >= start_date",
      )) > 0,
    );
    assert.equal(
      await count('SELECT COUNT(*) AS n FROM ccrepo.interactions WHERE finished = 1 AND end_date IS NULL'),
      0,
    );
    const dispositioned = await q(
      `SELECT i.disposition_id, i.dispositionIds, i.clientId, d.validAsFinal
         FROM ccrepo.interactions i JOIN ccdata.dispositions d ON d.id = i.disposition_id
        WHERE i.channel = 'telephony' AND i.disposition_id IS NOT NULL`,
    );
    assert.ok(dispositioned.length > 0, 'no telephony leg with a disposition');
    for (const r of dispositioned) {
      assert.equal(Number(r['validAsFinal']), 1);
      assert.equal(String(r['dispositionIds']).split(',').at(-1), String(r['disposition_id']));
      assert.match(String(r['clientId']), /^5989\d{7}$/);
    }

    // Every leg is inserted with its agent: each insert is an AssignInteraction under the default rules.
    assert.ok((await count('SELECT COUNT(*) AS n FROM ccrepo.interactions')) > 0);
    assert.equal(await count("SELECT COUNT(*) AS n FROM ccrepo.interactions WHERE COALESCE(agent, '') = ''"), 0);

    // Digital channels: inserted finished, with an email or phone as clientId.
    const digital = await q(
      "SELECT channel, clientId, finished, end_date FROM ccrepo.interactions WHERE channel <> 'telephony'",
    );
    assert.ok(digital.length > 0, 'no non-telephony interaction');
    for (const r of digital) {
      assert.equal(Number(r['finished']), 1);
      assert.ok(r['end_date']);
      assert.match(String(r['clientId']), /@|^\+\d+$/);
    }
  });

  void it('replays the same choices from the same seed', async () => {
    assert.ok(db);
    const adminUrl = db.adminUrl;
    const ROWS_COMPARED = 15;
    // What the seed decides: who does what, where, with which caller number or reason. Waited
    // times and Asterisk-style callids come from the clock and are left out.
    const seeded = (r: mysql.RowDataPacket): string => {
      const event = String(r['event']);
      const data: unknown =
        event === 'ENTERQUEUE' ? r['data2'] : ['AGENTLOGIN', 'PAUSE', 'UNPAUSE'].includes(event) ? r['data1'] : '';
      return [event, r['agent'], r['queuename'], data].map(String).join('|');
    };
    // Each run reads only the rows it wrote (ids above the maximum before it started).
    const run = async (): Promise<string[]> => {
      const [first] = await q('SELECT COALESCE(MAX(id), 0) AS id FROM ccrepo.queue_log_repo');
      const fromId = Number(first?.['id'] ?? 0);
      const written = async (): Promise<Rows> =>
        q('SELECT event, agent, queuename, data1, data2 FROM ccrepo.queue_log_repo WHERE id > ? ORDER BY id LIMIT ?', [
          fromId,
          ROWS_COMPARED,
        ]);
      const sim = new ContactCenterSimulator({ adminUrl, agents: 3, tickMs: 1, seed: 7, log: () => undefined });
      sim.start();
      try {
        await waitFor(async () => (await written()).length >= ROWS_COMPARED, { timeoutMs: 30_000 });
      } finally {
        await sim.stop();
      }
      return (await written()).map(seeded);
    };
    const a = await run();
    const b = await run();
    assert.equal(a.length, ROWS_COMPARED);
    assert.ok(
      a.some((r) => r.startsWith('ENTERQUEUE|')),
      'the compared window holds calls',
    );
    assert.deepEqual(b, a);
  });
});

void describe('ContactCenterSimulator without a database', () => {
  void it('logs step errors instead of throwing, keeps ticking, and stops cleanly', async () => {
    const lines: string[] = [];
    // Port 1 on loopback refuses at once: every step fails the same way.
    const sim = new ContactCenterSimulator({
      adminUrl: 'mysql://nobody:secret@127.0.0.1:1/',
      tickMs: 5,
      seed: 1,
      log: (l) => lines.push(l),
    });
    sim.start();
    try {
      await waitFor(() => (sim.stats['errors'] ?? 0) >= 2, { timeoutMs: 10_000, message: () => lines.join('\n') });
    } finally {
      await sim.stop();
    }
    const failures = lines.filter((l) => l.startsWith('simulator: step failed: '));
    assert.ok(failures.length >= 2, lines.join('\n'));
    assert.match(failures[0] ?? '', /ECONNREFUSED/);
    assert.ok(
      lines.every((l) => !l.includes('secret')),
      'a log line leaks the password',
    );
  });
});
