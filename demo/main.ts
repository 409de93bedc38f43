// `npm run demo`: the whole product on one machine. A private MariaDB with binlog and the reference
// schema, a local receiver registered for all six events, the bridge, and simulated contact-center
// traffic; every received event is printed. Ctrl-C (or --duration-s) stops everything it started
// and removes its temporary data.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBridge, type RunningBridge } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { EVENT_NAMES } from '../src/domain/events.js';
import { isBridgeError } from '../src/errors.js';
import { createLogger } from '../src/logger.js';
import { safeTimeout } from '../src/safe-timer.js';
import { findMariaDbBinaries, MARIADB_MISSING_HINT, startPrivateMariaDb, type PrivateMariaDb } from './mariadb.js';
import { REFERENCE_SCHEMA_SQL } from './reference-schema.js';
import { formatCounts, formatEventLine } from './printer.js';
import { startReceiver, type Receiver } from './receiver.js';
import { ContactCenterSimulator } from './simulator.js';

const USAGE = `npm run demo [-- --agents N] [--tick-ms MS] [--duration-s S] [--seed N]`;

/** Prints each event; 204 for a JSON body, 400 otherwise. Nothing is kept: the demo may run for hours. */
function startDemoReceiver(onEvent: (body: Record<string, unknown>) => void): Promise<Receiver> {
  return startReceiver(
    (req) => {
      try {
        onEvent(JSON.parse(req.body) as Record<string, unknown>);
        return { status: 204 };
      } catch {
        return { status: 400 };
      }
    },
    { record: false },
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '4' },
      'tick-ms': { type: 'string', default: '700' },
      'duration-s': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!findMariaDbBinaries()) {
    process.stderr.write(
      `The demo needs the MariaDB server binaries (mariadbd), which are not installed.\n${MARIADB_MISSING_HINT}\n`,
    );
    return 1;
  }

  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const stateDir = mkdtempSync(join(tmpdir(), 'ucw-demo-state-'));
  const counts: Record<string, number> = Object.fromEntries(EVENT_NAMES.map((e) => [e, 0]));
  let db: PrivateMariaDb | undefined;
  let receiver: Receiver | undefined;
  let bridge: RunningBridge | undefined;
  let sim: ContactCenterSimulator | undefined;
  try {
    out('Starting a private MariaDB with binlog (temporary data dir) ...');
    db = await startPrivateMariaDb();
    await db.exec(REFERENCE_SCHEMA_SQL);
    receiver = await startDemoReceiver((body) => {
      const name = String(body.event);
      counts[name] = (counts[name] ?? 0) + 1;
      out(formatEventLine(body));
    });
    const urls = EVENT_NAMES.map(
      (e) => `UPDATE ccdata.webhooks SET url = '${receiver!.url}/hooks/${e}' WHERE event = '${e}';`,
    );
    await db.exec(urls.join('\n'));
    out(`MariaDB on 127.0.0.1:${db.port}; receiver ${receiver.url} registered for all six events in ccdata.webhooks`);

    const config = loadConfig({ cli: { mysqlUrl: db.bridgeUrl, stateDir, httpPort: 0 }, env: {} });
    bridge = await startBridge(config, createLogger('warn'));
    out(
      `Bridge running (read-only user ucw_bridge); health and metrics on http://127.0.0.1:${bridge.httpPort}/metrics`,
    );

    sim = new ContactCenterSimulator({
      adminUrl: db.adminUrl,
      agents: Number(values.agents),
      tickMs: Number(values['tick-ms']),
      ...(values.seed ? { seed: Number(values.seed) } : {}),
      log: (line) => out(`  [simulator] ${line}`),
    });
    await sim.seedDirectory();
    sim.start();
    out('Simulated contact-center traffic started. Ctrl-C to stop.\n');

    const ticker = setInterval(() => out(`  -- ${formatCounts(counts)}`), 10_000);
    const stopReason = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('Ctrl-C'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
      void bridge!.done.catch((err: unknown) =>
        resolve(`bridge failed: ${isBridgeError(err) ? err.toDisplayString() : String(err)}`),
      );
      if (values['duration-s']) safeTimeout(() => resolve('duration reached'), Number(values['duration-s']) * 1000);
    });
    clearInterval(ticker);
    out(`\nStopping (${stopReason}) ...`);
    out(`Received: ${formatCounts(counts)}`);
    return stopReason.startsWith('bridge failed') ? 1 : 0;
  } finally {
    await sim?.stop().catch(() => undefined);
    await bridge?.stop().catch(() => undefined);
    await receiver?.close().catch(() => undefined);
    await db?.stop().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    out('Stopped; temporary data removed.');
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const shown = isBridgeError(err)
      ? err.toDisplayString()
      : err instanceof Error
        ? (err.stack ?? err.message)
        : String(err);
    process.stderr.write(`demo failed: ${shown}\n`);
    process.exitCode = 1;
  },
);
