import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatPayloadDate, isValidTimeZone, parseSourceDatetime } from '../../src/rules/time.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

void describe('parseSourceDatetime: UTC source', () => {
  void it('reads `YYYY-MM-DD HH:MM:SS` as UTC wall-clock time', () => {
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09', 'UTC'), Date.UTC(2026, 2, 2, 14, 5, 9));
    assert.equal(parseSourceDatetime('1999-12-31 23:59:59', 'UTC'), Date.UTC(1999, 11, 31, 23, 59, 59));
    assert.equal(parseSourceDatetime('2026-01-01 00:00:00', 'UTC'), Date.UTC(2026, 0, 1));
  });

  void it('accepts a T separator, missing seconds, a date alone and surrounding blanks', () => {
    assert.equal(parseSourceDatetime('2026-03-02T14:05:09', 'UTC'), Date.UTC(2026, 2, 2, 14, 5, 9));
    assert.equal(parseSourceDatetime('2026-03-02 14:05', 'UTC'), Date.UTC(2026, 2, 2, 14, 5, 0));
    assert.equal(parseSourceDatetime('2026-03-02', 'UTC'), Date.UTC(2026, 2, 2));
    assert.equal(parseSourceDatetime('  2026-03-02 14:05:09 \n', 'UTC'), Date.UTC(2026, 2, 2, 14, 5, 9));
  });

  void it('keeps milliseconds of fractional seconds (1 to 6 digits), truncating below a millisecond', () => {
    const base = Date.UTC(2026, 2, 2, 14, 5, 9);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.5', 'UTC'), base + 500);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.05', 'UTC'), base + 50);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.123', 'UTC'), base + 123);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.000', 'UTC'), base);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.999999', 'UTC'), base + 999);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.000001', 'UTC'), base);
    assert.equal(parseSourceDatetime('2026-03-02 14:05:09.1234567', 'UTC'), null);
  });

  void it('zero dates and zero parts become null', () => {
    assert.equal(parseSourceDatetime('0000-00-00 00:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('0000-00-00 00:00:00.000', 'UTC'), null);
    assert.equal(parseSourceDatetime('0000-00-00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-00-15 10:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-03-00 10:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('0000-03-02 10:00:00', 'America/Montevideo'), null);
  });

  void it('invalid days and months become null, never a rolled-over date', () => {
    assert.equal(parseSourceDatetime('2026-02-29 10:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-02-30', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-04-31 00:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-13-01 00:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-02-30 10:00:00', 'Europe/Madrid'), null);
    // ...while a real leap day is fine.
    assert.equal(parseSourceDatetime('2024-02-29 10:00:00', 'UTC'), Date.UTC(2024, 1, 29, 10));
  });

  void it('out-of-range clock fields become null', () => {
    assert.equal(parseSourceDatetime('2026-03-02 24:00:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-03-02 10:60:00', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-03-02 10:00:60', 'UTC'), null);
    assert.equal(parseSourceDatetime('2026-03-02 23:59:59', 'UTC'), Date.UTC(2026, 2, 2, 23, 59, 59));
  });

  void it('unparsable strings and other types become null', () => {
    for (const bad of [
      '',
      'now',
      '2026-3-2 14:05:09',
      '2026/03/02 14:05:09',
      '2026-03-02 14:05:09Z',
      '2026-03-02 14:05:09+00:00',
      '20260302140509',
      '2026-03-02 1:05:09',
      '2026-03-02 14:05:09.',
      '2026-03-02X14:05:09',
      '2026-03-02 14-05-09',
      '2026-03-02 14:05:0a',
      '2026-03-02 14:05:09.12a',
      '２０２６-03-02 14:05:09',
      '2026-03-02 14:05:09 extra',
      '-026-03-02',
    ]) {
      assert.equal(parseSourceDatetime(bad, 'UTC'), null, bad);
    }
    assert.equal(parseSourceDatetime(null, 'UTC'), null);
    assert.equal(parseSourceDatetime(undefined, 'UTC'), null);
    assert.equal(parseSourceDatetime(true, 'UTC'), null);
    assert.equal(parseSourceDatetime({}, 'UTC'), null);
    assert.equal(parseSourceDatetime(Number.NaN, 'UTC'), null);
    assert.equal(parseSourceDatetime(Number.POSITIVE_INFINITY, 'UTC'), null);
    assert.equal(parseSourceDatetime(new Date(Number.NaN), 'UTC'), null);
  });

  void it('passes Date objects and epoch numbers through as instants (zone not applied)', () => {
    const ms = Date.UTC(2026, 2, 2, 14, 5, 9, 42);
    assert.equal(parseSourceDatetime(new Date(ms), 'America/Montevideo'), ms);
    assert.equal(parseSourceDatetime(ms, 'America/Montevideo'), ms);
    assert.equal(parseSourceDatetime(0, 'UTC'), 0);
  });

  void it('handles instants before 1970', () => {
    assert.equal(parseSourceDatetime('1969-12-31 23:59:58.500', 'UTC'), -1500);
    assert.equal(parseSourceDatetime('1000-01-01 00:00:00', 'UTC'), Date.UTC(1000, 0, 1));
  });
});

void describe('parseSourceDatetime: non-UTC source zone', () => {
  void it('America/Montevideo (UTC-3, no DST) adds three hours', () => {
    assert.equal(iso(parseSourceDatetime('2026-03-02 11:05:09', 'America/Montevideo')), '2026-03-02T14:05:09.000Z');
    assert.equal(iso(parseSourceDatetime('2026-07-15 22:30:00.250', 'America/Montevideo')), '2026-07-16T01:30:00.250Z');
  });

  void it('UTC spelled another way gives the same instants', () => {
    for (const zone of ['Etc/UTC', 'utc', 'Etc/GMT']) {
      assert.equal(parseSourceDatetime('2026-03-02 14:05:09.007', zone), Date.UTC(2026, 2, 2, 14, 5, 9, 7), zone);
    }
  });

  void it('Europe/Madrid across the spring-forward boundary (2026-03-29 02:00 CET -> 03:00 CEST)', () => {
    assert.equal(iso(parseSourceDatetime('2026-03-29 01:59:59', 'Europe/Madrid')), '2026-03-29T00:59:59.000Z');
    assert.equal(iso(parseSourceDatetime('2026-03-29 03:00:00', 'Europe/Madrid')), '2026-03-29T01:00:00.000Z');
    assert.equal(iso(parseSourceDatetime('2026-03-28 12:00:00', 'Europe/Madrid')), '2026-03-28T11:00:00.000Z');
    assert.equal(iso(parseSourceDatetime('2026-03-30 12:00:00', 'Europe/Madrid')), '2026-03-30T10:00:00.000Z');
  });

  void it('Europe/Madrid across the fall-back boundary (2026-10-25 03:00 CEST -> 02:00 CET)', () => {
    assert.equal(iso(parseSourceDatetime('2026-10-25 01:59:59', 'Europe/Madrid')), '2026-10-24T23:59:59.000Z');
    assert.equal(iso(parseSourceDatetime('2026-10-25 03:00:00', 'Europe/Madrid')), '2026-10-25T02:00:00.000Z');
    // 02:30 happens twice: its first occurrence (CEST), as docs/rules.md says.
    assert.equal(iso(parseSourceDatetime('2026-10-25 02:30:00', 'Europe/Madrid')), '2026-10-25T00:30:00.000Z');
    assert.equal(iso(parseSourceDatetime('2026-10-25 02:00:00', 'Europe/Madrid')), '2026-10-25T00:00:00.000Z');
    assert.equal(iso(parseSourceDatetime('2026-10-25 02:59:59.999', 'Europe/Madrid')), '2026-10-25T00:59:59.999Z');
  });

  void it('a wall time a spring-forward skips is moved forward by the gap (Madrid 02:30 -> 03:30 CEST)', () => {
    assert.equal(iso(parseSourceDatetime('2026-03-29 02:30:00', 'Europe/Madrid')), '2026-03-29T01:30:00.000Z');
    assert.equal(iso(parseSourceDatetime('2026-03-29 02:00:00', 'Europe/Madrid')), '2026-03-29T01:00:00.000Z');
    // West of UTC the same: New York 02:30 on 2026-03-08 is read as 03:30 EDT.
    assert.equal(iso(parseSourceDatetime('2026-03-08 02:30:00', 'America/New_York')), '2026-03-08T07:30:00.000Z');
  });

  void it('America/New_York across both boundaries of 2026', () => {
    assert.equal(iso(parseSourceDatetime('2026-03-08 01:59:59', 'America/New_York')), '2026-03-08T06:59:59.000Z');
    assert.equal(iso(parseSourceDatetime('2026-03-08 03:00:00', 'America/New_York')), '2026-03-08T07:00:00.000Z');
    assert.equal(iso(parseSourceDatetime('2026-11-01 00:59:59', 'America/New_York')), '2026-11-01T04:59:59.000Z');
    assert.equal(iso(parseSourceDatetime('2026-11-01 02:00:00', 'America/New_York')), '2026-11-01T07:00:00.000Z');
    // 01:30 happens twice: its first occurrence (EDT).
    assert.equal(iso(parseSourceDatetime('2026-11-01 01:30:00', 'America/New_York')), '2026-11-01T05:30:00.000Z');
  });

  void it('round-trips with formatPayloadDate in the same zone for unambiguous times', () => {
    const cases: Array<[string, string]> = [
      ['2026-03-02 14:05:09', 'UTC'],
      ['2026-03-02 14:05:09', 'America/Montevideo'],
      ['2026-03-29 01:59:59', 'Europe/Madrid'],
      ['2026-03-29 03:00:00', 'Europe/Madrid'],
      ['2026-10-25 03:00:00', 'Europe/Madrid'],
      ['2026-12-31 23:59:59', 'Asia/Kolkata'],
      ['2026-06-30 00:00:00', 'Pacific/Chatham'],
    ];
    for (const [text, zone] of cases) {
      const ms = parseSourceDatetime(text, zone);
      assert.ok(ms !== null, `${text} ${zone}`);
      assert.equal(formatPayloadDate(ms, zone), text, `${text} ${zone}`);
    }
  });
});

void describe('formatPayloadDate', () => {
  void it('gives each zone and second its own text when calls alternate (the last second is cached)', () => {
    const ms = Date.UTC(2026, 2, 2, 14, 5, 9, 100);
    assert.equal(formatPayloadDate(ms, 'UTC'), '2026-03-02 14:05:09');
    assert.equal(formatPayloadDate(ms + 800, 'UTC'), '2026-03-02 14:05:09');
    assert.equal(formatPayloadDate(ms, 'America/Montevideo'), '2026-03-02 11:05:09');
    assert.equal(formatPayloadDate(ms + 900, 'UTC'), '2026-03-02 14:05:10');
    assert.equal(formatPayloadDate(ms + 900, 'America/Montevideo'), '2026-03-02 11:05:10');
    assert.equal(formatPayloadDate(-1500, 'UTC'), '1969-12-31 23:59:58');
    assert.equal(formatPayloadDate(-1000, 'UTC'), '1969-12-31 23:59:59');
  });

  void it('writes `yyyy-MM-dd HH:mm:ss` with zero padding in UTC', () => {
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 14, 5, 9), 'UTC'), '2026-03-02 14:05:09');
    assert.equal(formatPayloadDate(Date.UTC(2026, 0, 5, 3, 4, 5), 'UTC'), '2026-01-05 03:04:05');
    assert.equal(formatPayloadDate(Date.UTC(2026, 11, 31, 23, 59, 59), 'UTC'), '2026-12-31 23:59:59');
  });

  void it('puts the real month in the month slot (not the minutes, unlike uContact examples)', () => {
    assert.equal(formatPayloadDate(Date.UTC(2023, 11, 13, 6, 48, 51), 'UTC'), '2023-12-13 06:48:51');
  });

  void it('drops milliseconds without rounding', () => {
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 14, 5, 9, 999), 'UTC'), '2026-03-02 14:05:09');
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 14, 5, 9, 999), 'America/Montevideo'), '2026-03-02 11:05:09');
    assert.equal(formatPayloadDate(-1500, 'UTC'), '1969-12-31 23:59:58');
  });

  void it('uses a 24-hour clock: midnight is 00, not 24 or 12', () => {
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 3, 0, 0), 'America/Montevideo'), '2026-03-02 00:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 0, 0, 0), 'UTC'), '2026-03-02 00:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 12, 0, 0), 'UTC'), '2026-03-02 12:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 15, 0, 0), 'America/Montevideo'), '2026-03-02 12:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 23, 30, 0), 'Europe/Madrid'), '2026-03-03 00:30:00');
  });

  void it('shifts to the output zone, across day and year boundaries and with DST', () => {
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 14, 5, 9), 'America/Montevideo'), '2026-03-02 11:05:09');
    assert.equal(formatPayloadDate(Date.UTC(2026, 0, 1, 1, 0, 0), 'America/Montevideo'), '2025-12-31 22:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 6, 1, 10, 0, 0), 'Europe/Madrid'), '2026-07-01 12:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 0, 1, 10, 0, 0), 'Europe/Madrid'), '2026-01-01 11:00:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 9, 25, 0, 30), 'Europe/Madrid'), '2026-10-25 02:30:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 9, 25, 1, 30), 'Europe/Madrid'), '2026-10-25 02:30:00');
    assert.equal(formatPayloadDate(Date.UTC(2026, 2, 2, 14, 5, 9), 'Asia/Kolkata'), '2026-03-02 19:35:09');
    assert.equal(formatPayloadDate(-1500, 'Etc/GMT+3'), '1969-12-31 20:59:58');
  });
});

void describe('isValidTimeZone', () => {
  void it('accepts IANA names and UTC, rejects anything else', () => {
    for (const z of ['UTC', 'Etc/UTC', 'America/Montevideo', 'Europe/Madrid', 'Asia/Kolkata'])
      assert.equal(isValidTimeZone(z), true, z);
    for (const z of ['', 'Mars/Olympus_Mons', 'America/Nowhere', 'UTC+3 hours', 'not a zone'])
      assert.equal(isValidTimeZone(z), false, z);
  });
});
