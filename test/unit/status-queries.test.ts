// The per-URL queries of `status` are seeks on indexes or keys (EXPLAIN QUERY PLAN), never a pass over every
// delivery: a status read over many URLs and a large table stays bounded.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { OUTBOX_FILE, StateStore } from '../../src/outbox/state-store.js';
import { DELIVERED_SINCE_SQL } from '../../src/outbox/schema.js';
import { PER_URL_SQL } from '../../src/outbox/status-queries.js';

void describe('status per-URL query plans', () => {
  let dir = '';
  let db: Database.Database;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-status-plan-'));
    new StateStore({ stateDir: dir, synchronous: 'normal' }).close();
    db = new Database(join(dir, OUTBOX_FILE), { readonly: true });
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const plan = (sql: string): string =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('https://a.example/') as Array<{ detail: string }>)
      .map((p) => p.detail)
      .join(' | ');

  for (const [name, index] of [
    ['retrying', 'deliveries_pending'],
    ['oldest', 'deliveries_pending'],
    ['lastErrorPending', 'deliveries_pending'],
    ['lastErrorDead', 'deliveries_dead_by_url'],
  ] as const)
    void it(`${name} seeks ${index} by url, no SCAN`, () => {
      const details = plan(PER_URL_SQL[name]);
      assert.match(details, new RegExp(`SEARCH \\w+ USING (COVERING )?INDEX ${index} \\(url=\\?`), details);
      assert.doesNotMatch(details, /SCAN/, details);
    });

  void it('what a release without last_success delivered since is a range of deliveries_done, no SCAN', () => {
    const details = (db.prepare(`EXPLAIN QUERY PLAN ${DELIVERED_SINCE_SQL}`).all(0) as Array<{ detail: string }>)
      .map((p) => p.detail)
      .join(' | ');
    assert.match(details, /SEARCH deliveries USING INDEX deliveries_done \(updated_at_ms>\?\)/, details);
    assert.doesNotMatch(details, /SCAN/, details);
  });

  void it('lastSuccess is one key of last_success, no SCAN', () => {
    const details = plan(PER_URL_SQL.lastSuccess);
    assert.match(details, /SEARCH last_success USING PRIMARY KEY \(url=\?\)/, details);
    assert.doesNotMatch(details, /SCAN/, details);
  });
});
