// What a user gets from `npm install <tarball>`: the packed bridge installs in an empty directory
// and its installed command answers --help, checks the default rules and runs against a real source,
// delivering an event and stopping cleanly on SIGTERM. One test, one install, which needs the npm
// registry. better-sqlite3 has no prebuilt binary here: its compile from source (a minute of CPU) is
// what the project's own `npm ci` already does in .ci/run, so the install skips install scripts and
// takes the project's compiled module, checked to be the same version. Needs `npm run build` first.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { queueLog, setUrl } from '../helpers/source-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { EXIT_TIMEOUT_MS, exitOf, exitWithin, tail } from '../helpers/child-exit.js';

const INSTALL_TIMEOUT_MS = 600_000;

void describe('the packed tarball, installed in an empty directory', () => {
  const env = useIntegrationEnv();
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ucw-install-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('installs; --help, rules check and run work; SIGTERM exits 0', { timeout: 900_000 }, async () => {
    const packDir = join(dir, 'pack');
    const appDir = join(dir, 'app');
    execFileSync('mkdir', ['-p', packDir, appDir]);
    execFileSync('npm', ['pack', '--pack-destination', packDir, '--ignore-scripts', '--silent'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    const [tarball] = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack wrote no tarball into ${packDir}`);
    writeFileSync(join(appDir, 'package.json'), '{"name":"install-check","private":true}\n');
    execFileSync('npm', ['install', join(packDir, tarball), '--no-audit', '--no-fund', '--ignore-scripts'], {
      cwd: appDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: INSTALL_TIMEOUT_MS,
    });
    const sqlite = (root: string): string => join(root, 'node_modules', 'better-sqlite3');
    const versionOf = (root: string): string =>
      (JSON.parse(readFileSync(join(sqlite(root), 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(versionOf(appDir), versionOf(PROJECT_ROOT), 'the package pins the better-sqlite3 the project built');
    const addon = join('build', 'Release', 'better_sqlite3.node');
    mkdirSync(join(sqlite(appDir), 'build', 'Release'), { recursive: true });
    copyFileSync(join(sqlite(PROJECT_ROOT), addon), join(sqlite(appDir), addon));
    // The installed command runs through its own shebang (memory flags included), as a user runs it.
    const bin = join(appDir, 'node_modules', '.bin', 'ucontact-webhooks');
    const run = (args: string[]): string =>
      execFileSync(bin, args, { cwd: appDir, encoding: 'utf8', timeout: EXIT_TIMEOUT_MS, killSignal: 'SIGKILL' });

    assert.match(run(['--help']), /ucontact-webhooks run +Follow the source binlog/);
    const rulesFile = join(appDir, 'rules.yaml');
    writeFileSync(rulesFile, run(['rules', 'print-default']));
    assert.match(run(['rules', 'check', rulesFile]), /^ok: \d+ rules, \d+ directories\n$/);

    const { src, rx } = env;
    await src.reset();
    await src.tx(setUrl('AgentLog', rx.urlFor('/installed')));
    rx.clear();
    const child = spawn(
      bin,
      ['run', '--mysql-url', src.db.bridgeUrl, '--state-dir', join(dir, 'state'), '--http-port', '0'],
      { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const exited = exitOf(child);
    try {
      const started = await waitFor(() => /"httpPort":(\d+),.*"msg":"bridge started"/.exec(out) ?? undefined, {
        message: () => `bridge not started:\n${out}`,
      });
      // Ready = the binlog stream is open: a row committed before that would precede the first-run start.
      await waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${started[1]}/readyz`);
          await res.arrayBuffer();
          return res.status === 200;
        },
        { message: () => `bridge never ready:\n${out}` },
      );
      await src.tx(queueLog({ time: '2026-03-02 12:00:01.000', event: 'AGENTLOGIN', agent: 'jdoe' }));
      await waitFor(() => rx.requests.length === 1, { message: () => `${rx.requests.length}/1 deliveries\n${out}` });
      const body = JSON.parse(rx.requests[0]!.body) as Record<string, unknown>;
      assert.equal(rx.requests[0]!.path, '/installed');
      assert.equal(body.event, 'AgentLog');
      assert.equal(body.agent, 'jdoe');
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM');
    }
    assert.equal(await exitWithin(child, exited, () => tail(out)), 0, out);
  });
});
