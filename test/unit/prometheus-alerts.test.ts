// docker/prometheus-alerts.yml is a valid Prometheus rules file (`promtool check rules`), its alerts
// behave as their unit tests say (`promtool test rules docker/prometheus-alerts.test.yml`), and each
// alert has a severity, says what to do and points at a section of the manual that names it.
// promtool comes with Debian's `prometheus` package (.ci/run installs it); without it, and outside
// CI, the promtool tests are skipped with that reason.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES = join(ROOT, 'docker', 'prometheus-alerts.yml');
const RULE_TESTS = join(ROOT, 'docker', 'prometheus-alerts.test.yml');

function findPromtool(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  return dirs.map((d) => join(d, 'promtool')).find((p) => p !== 'promtool' && existsSync(p));
}

const promtool = findPromtool();
/** In CI a missing promtool is a failure (.ci/run installs it), not a skip. */
const skip =
  promtool === undefined && !process.env.CI
    ? 'promtool not installed (apt-get install --no-install-recommends prometheus); CI is not set'
    : false;

function runPromtool(args: string[]): { status: number | null; out: string } {
  assert.ok(promtool, 'promtool not found on PATH nor in /usr/bin: install Debian package prometheus');
  const r = spawnSync(promtool, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = (): Rule[] =>
  (parseYaml(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);

void describe('docker/prometheus-alerts.yml', () => {
  void test('promtool check rules accepts it', { skip }, () => {
    const { status, out } = runPromtool(['check', 'rules', RULES]);
    assert.equal(status, 0, out);
    assert.match(out, new RegExp(`SUCCESS: ${rules().length} rules found`), out);
  });

  void test('promtool test rules: the alerts fire and clear as prometheus-alerts.test.yml says', { skip }, () => {
    const { status, out } = runPromtool(['test', 'rules', RULE_TESTS]);
    assert.equal(status, 0, out);
    assert.match(out, /SUCCESS/, out);
  });

  void test('every alert has a severity, a summary and what to do, and the manual names it', () => {
    const manual = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const all = rules();
    const names = all.map((r) => r.alert);
    assert.equal(new Set(names).size, names.length, 'alert names are unique');
    for (const r of all) {
      assert.ok(r.alert && r.expr, `a rule without alert or expr: ${JSON.stringify(r)}`);
      assert.ok(['critical', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert}: severity critical|warning`);
      assert.ok(r.annotations?.summary, `${r.alert}: summary`);
      assert.match(r.annotations?.description ?? '', /See docs\/operations\.md#alerts\.$/, `${r.alert}: description`);
      assert.ok(manual.includes(`\`${r.alert}\``), `${r.alert} is not described in docs/operations.md`);
    }
    // What the issue asks to be alerted on.
    const exprs = all.map((r) => r.expr).join('\n');
    for (const metric of [
      'ucw_source_lag_seconds',
      'ucw_source_lag_bytes',
      'ucw_outbox_dead',
      'ucw_binlog_retention_headroom_seconds',
      'ucw_urls_paused',
      'ucw_urls_failing',
      'ucw_source_connected',
    ]) {
      assert.match(exprs, new RegExp(`\\b${metric}\\b`), `no alert on ${metric}`);
    }
  });
});
