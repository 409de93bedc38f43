// The filters of `deliveries list|retry`: relative and ISO times against an injected now, state names
// (discarded is cancelled), ids, and the refusals an operator sees for a typo (UCW_ERR_CONFIG_INVALID).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  filterFromJson,
  filterQuery,
  parseFilter,
  parseIds,
  parseStates,
  parseTime,
} from '../../src/ops/deliveries-filter.js';
import { isBridgeError } from '../../src/errors.js';

const NOW = Date.UTC(2026, 10, 30, 15, 0, 0);
const invalid = (re: RegExp) => (err: unknown) =>
  isBridgeError(err) && err.code === 'UCW_ERR_CONFIG_INVALID' && re.test(err.message);

void describe('deliveries filters', () => {
  void it('a relative time is that long before the injected now (s, m, h, d, w; decimals)', () => {
    assert.equal(parseTime('30s', NOW, '--since'), NOW - 30_000);
    assert.equal(parseTime('15m', NOW, '--since'), NOW - 15 * 60_000);
    assert.equal(parseTime('1h', NOW, '--since'), NOW - 3_600_000);
    assert.equal(parseTime('1.5h', NOW, '--since'), NOW - 5_400_000);
    assert.equal(parseTime('2d', NOW, '--since'), NOW - 2 * 86_400_000);
    assert.equal(parseTime('1W', NOW, '--since'), NOW - 7 * 86_400_000);
  });

  void it('an ISO time is read as given; without a zone (or date only) as UTC', () => {
    assert.equal(parseTime('2026-11-30T14:00:00Z', NOW, '--since'), Date.UTC(2026, 10, 30, 14));
    assert.equal(parseTime('2026-11-30T14:00:00-03:00', NOW, '--since'), Date.UTC(2026, 10, 30, 17));
    assert.equal(parseTime('2026-11-30 14:30', NOW, '--since'), Date.UTC(2026, 10, 30, 14, 30));
    assert.equal(parseTime('2026-11-30T14:30:05.250', NOW, '--since'), Date.UTC(2026, 10, 30, 14, 30, 5, 250));
    assert.equal(parseTime('2026-11-29', NOW, '--until'), Date.UTC(2026, 10, 29));
  });

  void it('refuses what is not a time, naming the flag', () => {
    for (const bad of ['yesterday', '1 hour', '5y', '2026-13-45', '', '-1h'])
      assert.throws(() => parseTime(bad, NOW, '--until'), invalid(/^--until ".*" is not a time$/), bad);
  });

  void it('states: repeated or comma-separated, any case; discarded is cancelled; unknown refused', () => {
    assert.deepEqual(parseStates(['dead,Cancelled', 'retrying']), ['dead', 'cancelled', 'retrying']);
    assert.deepEqual(parseStates(['discarded', 'cancelled']), ['cancelled']);
    assert.throws(() => parseStates(['failed']), invalid(/--state "failed" is not a delivery state/));
  });

  void it('ids: positive integers, repeated or comma-separated', () => {
    assert.deepEqual(parseIds(['3', '5,8', 13]), [3, 5, 8, 13]);
    for (const bad of ['0', '-2', '1.5', 'abc'])
      assert.throws(() => parseIds([bad]), invalid(/is not a delivery id/), bad);
  });

  void it('parseFilter keeps only what was given, and refuses --since not before --until', () => {
    assert.deepEqual(parseFilter({}, NOW), {});
    assert.deepEqual(
      parseFilter(
        { url: 'http://a.test/h', event: 'AgentLog', state: ['dead'], since: '2h', until: '1h', id: ['7'] },
        NOW,
      ),
      {
        url: 'http://a.test/h',
        event: 'AgentLog',
        states: ['dead'],
        sinceMs: NOW - 7_200_000,
        untilMs: NOW - 3_600_000,
        ids: [7],
      },
    );
    assert.throws(() => parseFilter({ since: '1h', until: '2h' }, NOW), invalid(/--since is not before --until/));
  });

  void it('a filter goes to the bridge and back unchanged (query string, JSON body)', () => {
    const f = parseFilter({ url: 'http://a.test/h?k=1', state: ['dead', 'cancelled'], since: '1h', id: ['4,9'] }, NOW);
    const q = filterQuery(f, 20);
    assert.equal(q.get('limit'), '20');
    assert.deepEqual(
      parseFilter(
        {
          url: q.get('url')!,
          state: [q.get('state')!],
          since: q.get('since')!,
          id: [q.get('id')!],
        },
        NOW,
      ),
      f,
    );
    assert.deepEqual(filterFromJson(JSON.parse(JSON.stringify(f))), f);
    assert.throws(() => filterFromJson({ states: 'dead' }), invalid(/states must be a list/));
    assert.throws(() => filterFromJson({ sinceMs: '1h' }), invalid(/sinceMs must be a number/));
  });
});
