import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from '../../src/observe/metrics.js';
import { SourceLagSampler } from '../../src/ops/source-lag-sampler.js';
import type { StoredCheckpoint } from '../../src/outbox/records.js';

const T0 = Date.UTC(2026, 10, 30, 12, 0, 0);

/** A server as SourceDb shows it: head, SHOW BINARY LOGS and the purge variables (absent ones: 1193). */
function fakeServer(vars: Record<string, number>) {
  const state = { head: { file: 'binlog.000002', pos: 1_000 }, files: [{ file: 'binlog.000001', size: 4_000 }] };
  const db = {
    binlogEnd: () => Promise.resolve(state.head),
    binlogFiles: () => Promise.resolve([...state.files, { file: state.head.file, size: state.head.pos }]),
    pool: {
      query: (sql: string) => {
        const name = /@@(\w+)/.exec(sql)![1]!;
        if (!(name in vars)) return Promise.reject(Object.assign(new Error('unknown variable'), { errno: 1193 }));
        return Promise.resolve([[{ v: vars[name] }]]);
      },
    },
  };
  return { state, db: db as unknown as ConstructorParameters<typeof SourceLagSampler>[0]['db'] };
}

const gauge = async (m: Metrics, name: string): Promise<string> =>
  new RegExp(`^${name} (\\S+)$`, 'm').exec(await m.render())![1]!;

void describe('source lag sampler', () => {
  void it('sets the gauges: NaN until read, +Inf when nothing purges, then lag bytes', async () => {
    const metrics = new Metrics();
    assert.equal(await gauge(metrics, 'ucw_source_lag_bytes'), 'Nan');
    assert.equal(await gauge(metrics, 'ucw_binlog_retention_headroom_seconds'), 'Nan');
    const { db } = fakeServer({ binlog_expire_logs_seconds: 0, expire_logs_days: 0 });
    let now = T0;
    const checkpoint: StoredCheckpoint = { file: 'binlog.000001', pos: 3_000, commitTimeMs: T0 - 10_000 };
    const sampler = new SourceLagSampler({
      db,
      checkpoint: () => checkpoint,
      metrics,
      logger: console,
      now: () => now,
    });
    await sampler.sample();
    // 1000 left in binlog.000001 + 1000 in binlog.000002.
    assert.equal(await gauge(metrics, 'ucw_source_lag_bytes'), '2000');
    assert.equal(await gauge(metrics, 'ucw_binlog_retention_headroom_seconds'), '+Inf');
    now = T0 + 1_000;
    const f = sampler.fields();
    assert.equal(f.lagBytes, 2_000);
    assert.equal(f.lagSeconds, 11);
    assert.equal(f.sampledAt, new Date(T0).toISOString());
  });

  void it('uses expire_logs_days without binlog_expire_logs_seconds, and the write rate for a size cap', async () => {
    const metrics = new Metrics();
    const { db, state } = fakeServer({ expire_logs_days: 2, max_binlog_total_size: 10_000 });
    let now = T0;
    const sampler = new SourceLagSampler({
      db,
      checkpoint: () => ({ file: 'binlog.000001', pos: 3_000, commitTimeMs: T0 - 100_000 }),
      metrics,
      logger: console,
      now: () => now,
    });
    await sampler.sample();
    // Time: 2 days - 100 s; size: no rate yet, left out.
    assert.equal(await gauge(metrics, 'ucw_binlog_retention_headroom_seconds'), String(2 * 86_400 - 100));
    now = T0 + 10_000;
    state.head = { file: 'binlog.000002', pos: 3_000 };
    await sampler.sample();
    // 2000 bytes in 10 s: 200 B/s. Files from binlog.000001 to the head: 4000 + 3000;
    // cap 10,000 leaves 3000: 15 s.
    assert.deepEqual(sampler.fields().retention, {
      expireSeconds: 172_800,
      totalSizeCapBytes: 10_000,
      writeRateBytesPerSecond: 200,
    });
    assert.equal(await gauge(metrics, 'ucw_binlog_retention_headroom_seconds'), '15');
    assert.equal(sampler.fields().retentionHeadroomSeconds, 15);
  });
});
