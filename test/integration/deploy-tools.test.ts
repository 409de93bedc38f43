// The deployment examples run through their own tools where this machine has them (each absent tool
// skips its test with one line saying so): `systemd-analyze verify` on the unit, `docker compose
// config` on compose.yaml. Without a docker daemon, the compose stack's own programs (the demo
// receiver and traffic services) run here as processes against the private MariaDB and the built
// bridge, so what `docker compose up` shows is checked: events flow from the traffic to the receiver.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';
import { useIntegrationEnv } from '../helpers/integration-env.js';
import { waitFor } from '../helpers/wait-for.js';
import { exitOf as childExit, exitWithin, tail } from '../helpers/child-exit.js';

/** Runs a tool to its end; undefined when it is not installed (or, for docker, has no compose plugin). */
function tool(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } | undefined {
  const r = spawnSync(cmd, args, { cwd: PROJECT_ROOT, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

void test('systemd-analyze verify accepts docker/systemd/ucontact-webhooks.service', (t) => {
  const unit = join(PROJECT_ROOT, 'docker', 'systemd', 'ucontact-webhooks.service');
  const r = tool('systemd-analyze', ['verify', unit]);
  if (r === undefined) return t.skip('systemd-analyze is not installed here: the unit was not verified');
  // verify exits 0 on unknown keys and bad values too: the messages about the unit are the verdict.
  const aboutUnit = r.stderr.split('\n').filter((l) => l.includes('ucontact-webhooks.service'));
  assert.deepEqual(aboutUnit, []);
  assert.equal(r.status, 0, r.stderr);
});

void test('docker compose config parses docker/compose.yaml', (t) => {
  const version = tool('docker', ['compose', 'version']);
  if (version === undefined || version.status !== 0) {
    return t.skip('docker compose is not installed here: `docker compose config` was not run');
  }
  const r = tool('docker', ['compose', '-f', 'docker/compose.yaml', 'config', '--quiet']);
  assert.equal(r?.status, 0, r?.stderr);
});

/** A demo program of the compose stack, run with tsx as its container runs it. */
function startDemoProgram(file: string, env: Record<string, string>): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  return { child, out: () => out };
}

/** The program's exit code, bounded: past the bound it is SIGKILLed and the test fails with its output. */
const exitOf = (program: { child: ChildProcess; out: () => string }): Promise<number | null> =>
  exitWithin(program.child, childExit(program.child), () => tail(program.out()));

void describe('the compose stack, its programs run as processes', () => {
  const env = useIntegrationEnv();

  void test('traffic registers the receiver, the bridge delivers, the receiver prints events', async () => {
    const { src } = env;
    const bridge = env.startBridge();
    await bridge.waitReady();
    const receiver = startDemoProgram('demo/compose-receiver.ts', { UCW_DEMO_RECEIVER_PORT: '0' });
    let traffic: ReturnType<typeof startDemoProgram> | undefined;
    try {
      const port = await waitFor(() => /receiver listening on port (\d+)/.exec(receiver.out())?.[1], {
        message: () => `receiver not listening:\n${receiver.out()}`,
      });
      traffic = startDemoProgram('demo/compose-traffic.ts', {
        UCW_DEMO_ADMIN_URL: src.db.adminUrl,
        UCW_DEMO_RECEIVER_URL: `http://127.0.0.1:${port}`,
        UCW_DEMO_TICK_MS: '50',
      });
      // AgentLog lines: the simulated agents log in first.
      await waitFor(() => (receiver.out().match(/^AgentLog\b/gm) ?? []).length >= 2, {
        timeoutMs: 30_000,
        message: () => `receiver output:\n${receiver.out()}\ntraffic output:\n${traffic!.out()}`,
      });
      assert.match(traffic.out(), /^registered http:\/\/127\.0\.0\.1:\d+\/hooks\/<event> for AgentRingNoAnswer, /m);
    } finally {
      traffic?.child.kill('SIGTERM');
      receiver.child.kill('SIGTERM');
    }
    assert.equal(await exitOf(traffic), 0, traffic.out());
    assert.equal(await exitOf(receiver), 0, receiver.out());
  });
});
