// The `traffic` service of docker/compose.yaml: registers the compose receiver for every event in
// ccdata.webhooks, then drives the demo's simulated contact center until SIGTERM. Reads
// UCW_DEMO_ADMIN_URL (an account that may write ccdata and ccrepo) and UCW_DEMO_RECEIVER_URL.

import mysql from 'mysql2/promise';
import { EVENT_NAMES } from '../src/domain/events.js';
import { ContactCenterSimulator } from './simulator.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  const adminUrl = required('UCW_DEMO_ADMIN_URL');
  const receiverUrl = required('UCW_DEMO_RECEIVER_URL').replace(/\/+$/, '');
  const conn = await mysql.createConnection({ uri: adminUrl });
  try {
    for (const event of EVENT_NAMES) {
      await conn.execute('UPDATE ccdata.webhooks SET url = ? WHERE event = ?', [
        `${receiverUrl}/hooks/${event}`,
        event,
      ]);
    }
  } finally {
    await conn.end();
  }
  process.stdout.write(`registered ${receiverUrl}/hooks/<event> for ${EVENT_NAMES.join(', ')}\n`);
  const sim = new ContactCenterSimulator({
    adminUrl,
    agents: Number(process.env['UCW_DEMO_AGENTS'] ?? 4),
    tickMs: Number(process.env['UCW_DEMO_TICK_MS'] ?? 700),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  await sim.seedDirectory();
  sim.start();
  const stop = (): void => void sim.stop().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`traffic failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
