// The README's first command works: `npm run demo` starts everything, shows all six events from the
// simulated traffic, and on stop leaves no server process and no temporary data behind.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { PROJECT_ROOT } from '../helpers/bridge-process.js';
import { EVENT_NAMES } from '../../src/domain/events.js';
import { exitOf, exitWithin, tail } from '../helpers/child-exit.js';

void describe('npm run demo', () => {
  void test('prints all six events and cleans up after itself', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'demo/main.ts', '--duration-s', '12', '--tick-ms', '40', '--seed', '7'],
      {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    // The demo runs 12 s plus its server's start and stop: a hang fails here, with its output.
    const code = await exitWithin(child, exitOf(child), () => tail(out), 120_000);
    assert.equal(code, 0, out);
    const port = /MariaDB on 127\.0\.0\.1:(\d+)/.exec(out)?.[1];
    assert.ok(port, out);
    const received = /Received: (.*)/.exec(out)?.[1] ?? '';
    for (const name of EVENT_NAMES) {
      const n = Number(new RegExp(`${name}=(\\d+)`).exec(received)?.[1] ?? 0);
      assert.ok(n > 0, `no ${name} received in the demo:\n${out}`);
      assert.match(out, new RegExp(`^${name}\\s`, 'm'), `no printed ${name} line`);
    }
    assert.match(out, /Stopped; temporary data removed\./);
    // The private server is gone: nothing listens on its port any more.
    const refused = await new Promise<boolean>((resolve) => {
      const sock = connect(Number(port), '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve(false);
      });
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    assert.ok(refused, 'the demo MariaDB is still listening');
  });
});
