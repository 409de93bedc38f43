// `check`: the server's flavour, binlog retention and volume, and GTID mode (pure: the values come in
// as the server answered them). Retention decides how long the bridge may be down and still resume
// from its checkpoint: a purged checkpoint is UCW_ERR_SOURCE_BINLOG_GONE.

import type { CheckResult } from '../check-result.js';
import type { ServerSettings } from '../source/source-db.js';
import { formatBytes } from './status-format.js';

/** Global variables read for retention and GTIDs (absent ones are not on that server). */
export const BINLOG_VARIABLES = [
  'binlog_expire_logs_seconds',
  'expire_logs_days',
  'max_binlog_total_size',
  'binlog_space_limit',
  'gtid_mode',
  'gtid_strict_mode',
  'gtid_binlog_pos',
] as const;

/** Below this retention a weekend outage (or a long maintenance) can lose the checkpoint. */
export const MIN_RETENTION_SECONDS = 24 * 3600;

const DAY = 86_400;

/** "3 days", "12 hours", "90 minutes", "45 seconds". */
export function formatDuration(seconds: number): string {
  const unit = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (seconds >= DAY && seconds % DAY === 0) return unit(seconds / DAY, 'day');
  if (seconds >= 3600 && seconds % 3600 === 0) return unit(seconds / 3600, 'hour');
  if (seconds >= 60 && seconds % 60 === 0) return unit(seconds / 60, 'minute');
  return unit(seconds, 'second');
}

/**
 * Seconds after which the server purges a binlog file; 0 = never. binlog_expire_logs_seconds wins
 * when set (MySQL 8, MariaDB 10.6+, where the two are linked); otherwise expire_logs_days.
 */
export function retentionSeconds(vars: ReadonlyMap<string, string>): number {
  const seconds = Number(vars.get('binlog_expire_logs_seconds') ?? 0);
  if (seconds > 0) return seconds;
  const days = Number(vars.get('expire_logs_days') ?? 0);
  return days > 0 ? Math.round(days * DAY) : 0;
}

export function retentionCheck(vars: ReadonlyMap<string, string>): CheckResult {
  const seconds = retentionSeconds(vars);
  // MariaDB 11.4+ also purges by total size (max_binlog_total_size, alias binlog_space_limit).
  const sizeLimit = Number(vars.get('max_binlog_total_size') ?? vars.get('binlog_space_limit') ?? 0);
  const bySize = sizeLimit > 0 ? `, and when they pass ${formatBytes(sizeLimit)} in all` : '';
  if (seconds === 0) {
    return {
      name: 'binlog retention',
      status: 'OK',
      message: `binlogs are never purged by age${bySize}; purge them by hand only below the bridge's checkpoint`,
    };
  }
  const message = `binlogs are purged after ${formatDuration(seconds)}${bySize}`;
  if (seconds >= MIN_RETENTION_SECONDS) {
    return { name: 'binlog retention', status: 'OK', message: `${message}: the longest outage the bridge survives` };
  }
  return {
    name: 'binlog retention',
    status: 'WARN',
    code: 'UCW_WARN_SOURCE_RETENTION_SHORT',
    message: `${message}: a bridge down longer than that cannot resume (UCW_ERR_SOURCE_BINLOG_GONE)`,
    hint:
      'SET GLOBAL binlog_expire_logs_seconds = 604800 (7 days; expire_logs_days on older servers) and in ' +
      'the server config: longer than the longest outage you want to survive.',
  };
}

export function volumeCheck(files: ReadonlyArray<{ file: string; size: number }>): CheckResult {
  const total = files.reduce((n, f) => n + f.size, 0);
  const first = files[0]?.file;
  const last = files.at(-1)?.file;
  const range = first === undefined ? '' : first === last ? ` (${first})` : ` (${first} .. ${last})`;
  return {
    name: 'binlog volume',
    status: 'OK',
    message: `${files.length} binlog file${files.length === 1 ? '' : 's'}, ${formatBytes(total)}${range}`,
  };
}

export function serverCheck(s: ServerSettings): CheckResult {
  return {
    name: 'server',
    status: 'OK',
    message: `${s.isMariaDb ? 'MariaDB' : 'MySQL'} ${s.version}, server_id ${s.serverId}`,
  };
}

/** GTIDs are informational: the bridge checkpoints a file and position, and works with GTIDs on or off. */
export function gtidCheck(isMariaDb: boolean, vars: ReadonlyMap<string, string>): CheckResult {
  if (isMariaDb) {
    const pos = vars.get('gtid_binlog_pos') || 'empty';
    const strict = vars.get('gtid_strict_mode') ?? 'unknown';
    return {
      name: 'gtid',
      status: 'OK',
      message:
        `MariaDB GTIDs (gtid_binlog_pos ${pos}, gtid_strict_mode ${strict}); the bridge checkpoints ` +
        'file and position and checks the GTID position there',
    };
  }
  return {
    name: 'gtid',
    status: 'OK',
    message: `gtid_mode ${vars.get('gtid_mode') ?? 'not on this server'}; the bridge checkpoints file and position`,
  };
}
