// `ucontact-webhooks check`: whether a bridge could run against a server, as one result per check:
// the connection, the server, its binlog settings (preflight.ts's own checks), retention and volume,
// GTIDs, the user's grants, the rules against the live schema, every registration and, on request,
// whether each registered URL answers. Only SELECT and SHOW reach the source (and session-only SETs:
// time_zone, SET ROLE), never a write. Rendering is check-render.ts.

import type { CheckResult } from '../check-result.js';
import { CODES } from '../error-codes.js';
import { describeError, isBridgeError } from '../errors.js';
import type { RulesFile } from '../rules/schema.js';
import { columnsUsed, registryColumns } from '../rules/columns.js';
import { resolveColumns } from '../rules/resolve-columns.js';
import { SCHEMA_HINT } from '../rules/schema-check.js';
import type { SourceConnection } from '../source/connection.js';
import { allGrants, readOnlyCheck, settingChecks } from '../source/preflight.js';
import { ER, errno, SourceDb, type ServerSettings } from '../source/source-db.js';
import { BINLOG_VARIABLES, gtidCheck, retentionCheck, serverCheck, volumeCheck } from './check-binlog.js';
import { grantChecks } from './check-grants.js';
import { probeUrls, type ProbeOptions } from './check-probe.js';
import { registryChecks } from './check-registry.js';

export interface CheckOptions {
  readonly conn: SourceConnection;
  /** The rules to check (a rules file or the defaults), or why they could not be loaded. */
  readonly rules: { readonly origin: string; readonly load: () => RulesFile };
  /** Set: probe every registered URL. */
  readonly probe?: ProbeOptions | undefined;
}

/** Every check, in order; never throws (a failure to run one is its FAIL line). */
export async function runChecks(o: CheckOptions): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  const rules = loadRules(o.rules, out);
  const db = new SourceDb(o.conn);
  try {
    let settings: ServerSettings;
    try {
      settings = await db.settings();
    } catch (err) {
      out.push(failure('connection', err, 'UCW_ERR_SOURCE_CONNECT'));
      return out;
    }
    out.push({ name: 'connection', status: 'OK', message: `connected to ${o.conn.display} as ${o.conn.user}` });
    await step(out, 'server', async () => {
      out.push(serverCheck(settings), ...settingChecks(settings, o.conn.display));
      const vars = await db.globalVariables(BINLOG_VARIABLES);
      out.push(retentionCheck(vars));
      if (settings.logBin) out.push(await binlogVolume(db));
      out.push(gtidCheck(settings.isMariaDb, vars));
    });
    await step(out, 'grants', async () => {
      const tables = rules === undefined ? [] : [...columnsUsed(rules).keys()];
      const withRoles = await allGrants(db);
      // MariaDB's SHOW GRANTS lists the default role's privileges, which the bridge's sessions have;
      // MySQL's names granted roles without their privileges, so there every granted role counts.
      const held = settings.isMariaDb ? await db.grants() : withRoles;
      const grants = grantChecks(held, { isMariaDb: settings.isMariaDb, tables });
      out.push(...grants.filter((g) => rules !== undefined || g.name !== 'grant SELECT'));
      out.push(readOnlyCheck(withRoles));
    });
    if (rules === undefined) return out;
    const urls = await step(out, 'schema', () => schemaAndRegistry(db, rules, out));
    if (o.probe && urls && urls.length > 0) {
      const probe = o.probe;
      await step(out, 'probe', async () => out.push(...(await probeUrls(urls, probe))));
    }
    return out;
  } finally {
    await db.close().catch(() => undefined);
  }
}

function loadRules(r: CheckOptions['rules'], out: CheckResult[]): RulesFile | undefined {
  try {
    const rules = r.load();
    const n = Object.keys(rules.directories).length;
    out.push({ name: 'rules', status: 'OK', message: `${r.origin}: ${rules.rules.length} rules, ${n} directories` });
    return rules;
  } catch (err) {
    out.push(failure('rules', err, 'UCW_ERR_RULES_INVALID'));
    return undefined;
  }
}

/** Runs one group of checks; an unexpected failure becomes that group's FAIL line. */
async function step<T>(out: CheckResult[], name: string, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (err) {
    out.push(failure(name, err, 'UCW_ERR_SOURCE_QUERY'));
    return undefined;
  }
}

function failure(name: string, err: unknown, fallback: keyof typeof CODES): CheckResult {
  if (isBridgeError(err)) {
    return { name, status: 'FAIL', code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
  }
  return { name, status: 'FAIL', code: fallback, message: describeError(err).message, hint: CODES[fallback].hint };
}

async function binlogVolume(db: SourceDb): Promise<CheckResult> {
  try {
    return volumeCheck(await db.binlogFiles());
  } catch (err) {
    if (errno(err) !== ER.SPECIFIC_ACCESS_DENIED) throw err;
    return {
      name: 'binlog volume',
      status: 'FAIL',
      code: 'UCW_ERR_SOURCE_GRANTS',
      message: `cannot list the binlog files: ${describeError(err).message}`,
      hint: CODES.UCW_ERR_SOURCE_GRANTS.hint,
    };
  }
}

/** The rules against the live schema, then the registrations; returns the URLs a probe would try. */
async function schemaAndRegistry(db: SourceDb, rules: RulesFile, out: CheckResult[]): Promise<string[]> {
  const used = columnsUsed(rules);
  const live = await db.columnsOf([...used.keys()]);
  const { rules: resolved, problems } = resolveColumns(rules, live);
  if (problems.length === 0) {
    const columns = [...used.values()].reduce((n, c) => n + c.size, 0);
    out.push({
      name: 'schema',
      status: 'OK',
      message: `the ${used.size} tables and ${columns} columns the rules use exist`,
    });
  }
  for (const p of problems) {
    out.push({ name: 'schema', status: 'FAIL', code: 'UCW_ERR_RULES_SCHEMA', message: p, hint: SCHEMA_HINT });
  }
  const reg = resolved.registry;
  const cols = registryColumns(reg);
  // Read only when every column it needs exists: otherwise its schema line already says why.
  if (!cols.every((c) => live.get(reg.table)?.has(c))) return [];
  const report = registryChecks(reg, await db.snapshot(reg.table, cols));
  out.push(...report.checks);
  return report.urls;
}
