import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesBetween, sourceLag, writeRate, type LagInput } from '../../src/ops/source-lag.js';
import { serverFields } from '../../src/ops/source-lag-query.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const FILES = [
  { file: 'binlog.000007', size: 1_000 },
  { file: 'binlog.000008', size: 5_000 },
  { file: 'binlog.000009', size: 2_000 },
  { file: 'binlog.000010', size: 700 },
];
const HEAD = { file: 'binlog.000010', pos: 700 };

const input = (over: Partial<LagInput> = {}): LagInput => ({
  checkpoint: { file: 'binlog.000008', pos: 1_200 },
  checkpointCommitMs: NOW - 90_000,
  head: HEAD,
  files: FILES,
  retention: {},
  nowMs: NOW,
  ...over,
});

void describe('source lag', () => {
  void it('counts bytes from the checkpoint to the head across files', () => {
    // rest of 000008 (5000 - 1200) + all of 000009 (2000) + 700 into 000010.
    assert.equal(bytesBetween({ file: 'binlog.000008', pos: 1_200 }, HEAD, FILES), 3_800 + 2_000 + 700);
    assert.equal(bytesBetween({ file: 'binlog.000010', pos: 300 }, HEAD, FILES), 400);
    assert.equal(bytesBetween({ file: 'binlog.000003', pos: 4 }, HEAD, FILES), undefined, 'purged file');
    assert.equal(sourceLag(input()).lagBytes, 6_500);
  });

  void it('gives lag in seconds from the commit time when behind, 0 at the head', () => {
    assert.equal(sourceLag(input()).lagSeconds, 90);
    const caughtUp = sourceLag(input({ checkpoint: HEAD, checkpointCommitMs: NOW - 3_600_000 }));
    assert.equal(caughtUp.lagBytes, 0);
    assert.equal(caughtUp.lagSeconds, 0, 'an idle server is not lag');
    assert.equal(sourceLag(input({ checkpointCommitMs: undefined })).lagSeconds, undefined);
  });

  void it('estimates time-based headroom from the commit time of a closed file', () => {
    const day = 86_400;
    // Committed 90 s ago, expiry 1 day: purged no sooner than in 86,400 - 90 s.
    const f = sourceLag(input({ retention: { expireSeconds: day } }));
    assert.equal(f.retentionHeadroomSeconds, day - 90);
    assert.equal(f.checkpointPurged, false);
    // In the head's file (still written, never purged): the whole expiry.
    const atHead = sourceLag(
      input({ checkpoint: { file: 'binlog.000010', pos: 10 }, retention: { expireSeconds: day } }),
    );
    assert.equal(atHead.retentionHeadroomSeconds, day);
    // Already past the expiry: 0, never negative.
    const late = sourceLag(input({ checkpointCommitMs: NOW - 2 * day * 1000, retention: { expireSeconds: day } }));
    assert.equal(late.retentionHeadroomSeconds, 0);
    // No commit time stored: no estimate.
    const unknown = sourceLag(input({ checkpointCommitMs: undefined, retention: { expireSeconds: day } }));
    assert.equal(unknown.retentionHeadroomSeconds, undefined);
  });

  void it('estimates size-capped headroom from the write rate', () => {
    // Files from 000008 to the head hold 5000 + 2000 + 700 = 7700; cap 10,000 leaves 2300 bytes, at 100 B/s: 23 s.
    const f = sourceLag(input({ retention: { totalSizeCapBytes: 10_000 }, writeRateBytesPerSecond: 100 }));
    assert.equal(f.retentionHeadroomSeconds, 23);
    assert.equal(
      sourceLag(input({ retention: { totalSizeCapBytes: 7_000 }, writeRateBytesPerSecond: 100 }))
        .retentionHeadroomSeconds,
      0,
      'over the cap already',
    );
    assert.equal(
      sourceLag(input({ retention: { totalSizeCapBytes: 10_000 }, writeRateBytesPerSecond: 0 }))
        .retentionHeadroomSeconds,
      undefined,
      'no writes: no estimate',
    );
  });

  void it('takes the smaller of the limits, and none when nothing purges', () => {
    const both = sourceLag(
      input({ retention: { expireSeconds: 3_600, totalSizeCapBytes: 10_000 }, writeRateBytesPerSecond: 100 }),
    );
    assert.equal(both.retentionHeadroomSeconds, 23);
    const timeFirst = sourceLag(
      input({ retention: { expireSeconds: 100, totalSizeCapBytes: 10_000 }, writeRateBytesPerSecond: 1 }),
    );
    assert.equal(timeFirst.retentionHeadroomSeconds, 10, '100 s expiry - 90 s since commit');
    assert.equal(sourceLag(input()).retentionHeadroomSeconds, undefined);
  });

  void it('reports a checkpoint whose file was purged', () => {
    const f = sourceLag(input({ checkpoint: { file: 'binlog.000002', pos: 4 }, retention: { expireSeconds: 60 } }));
    assert.equal(f.checkpointPurged, true);
    assert.equal(f.lagBytes, undefined);
    assert.equal(f.retentionHeadroomSeconds, 0);
  });

  void it('measures the write rate between two reads of the head', () => {
    const earlier = { head: { file: 'binlog.000009', pos: 1_000 }, atMs: NOW - 10_000 };
    // 1000 left in 000009 + 700 in 000010 over 10 s.
    assert.equal(writeRate(earlier, { head: HEAD, atMs: NOW }, FILES), 170);
    assert.equal(writeRate(earlier, { head: HEAD, atMs: earlier.atMs }, FILES), undefined);
  });

  void it('never shows the head behind a checkpoint read after it (a running bridge samples every ~30 s)', () => {
    const server = { head: { file: 'binlog.000010', pos: 500 }, files: FILES, retention: {}, atMs: NOW - 20_000 };
    const f = serverFields(server, { file: 'binlog.000010', pos: 650, commitTimeMs: NOW - 1_000 }, undefined, NOW);
    assert.deepEqual(f.serverHead, { file: 'binlog.000010', position: 650 });
    assert.equal(f.lagBytes, 0);
    assert.equal(f.lagSeconds, 0);
    const behind = serverFields(server, { file: 'binlog.000009', pos: 1_500, commitTimeMs: NOW - 7_000 }, 250, NOW);
    assert.deepEqual(behind.serverHead, { file: 'binlog.000010', position: 500 });
    assert.equal(behind.lagBytes, 1_000);
    assert.equal(behind.lagSeconds, 7);
    assert.deepEqual(behind.retention, { writeRateBytesPerSecond: 250 });
    assert.equal(behind.sampledAt, new Date(NOW - 20_000).toISOString());
  });
});
