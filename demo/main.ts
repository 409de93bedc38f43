// `npm run demo`: the whole product on one machine. A private MariaDB with binlog and the reference
// schema, a local receiver registered for all five events, the bridge, and simulated contact-center
// traffic; every received event is printed. Ctrl-C (or --duration-s) stops everything it started
// and removes its temporary data.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { ContactCenterSimulator } from './simulator.js';

const USAGE = `npm run demo [-- --agents N] [--tick-ms MS] [--duration-s S] [--seed N]`;

interface DemoReceiver {
  readonly url: string;
  close(): Promise<void>;
}

function startDemoReceiver(onEvent: (body: Record<string, unknown>) => void): Promise<DemoReceiver> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        onEvent(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
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
    process.stderr.write(`The demo needs the MariaDB server binaries (mariadbd), which are not installed.\n${MARIADB_MISSING_HINT}\n`);
    return 1;
  }

  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  const stateDir = mkdtempSync(join(tmpdir(), 'ucw-demo-state-'));
  const counts: Record<string, number> = Object.fromEntries(EVENT_NAMES.map((e) => [e, 0]));
  let db: PrivateMariaDb | undefined;
  let receiver: DemoReceiver | undefined;
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
    const urls = EVENT_NAMES.map((e) => `UPDATE ccdata.webhooks SET url = '${receiver!.url}/hooks/${e}' WHERE event = '${e}';`);
    await db.exec(urls.join('\n'));
    out(`MariaDB on 127.0.0.1:${db.port}; receiver ${receiver.url} registered for all five events in ccdata.webhooks`);

    const config = loadConfig({ cli: { mysqlUrl: db.bridgeUrl, stateDir, httpPort: 0 }, env: {} });
    bridge = await startBridge(config, createLogger('warn'));
    out(`Bridge running (read-only user ucw_bridge); health and metrics on http://127.0.0.1:${bridge.httpPort}/metrics`);

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
      void bridge!.done.catch((err: unknown) => resolve(`bridge failed: ${isBridgeError(err) ? err.toDisplayString() : String(err)}`));
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
    process.stderr.write(`demo failed: ${isBridgeError(err) ? err.toDisplayString() : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
