// The `receiver` service of docker/compose.yaml: the demo's receiver listening on every address of
// its container, printing one line per event it gets (204 for a JSON body, 400 otherwise) until
// SIGTERM. Port from UCW_DEMO_RECEIVER_PORT (default 8080).

import { formatEventLine } from './printer.js';
import { startReceiver } from './receiver.js';

const DEFAULT_PORT = 8080;

async function main(): Promise<void> {
  const port = Number(process.env['UCW_DEMO_RECEIVER_PORT'] ?? DEFAULT_PORT);
  const receiver = await startReceiver(
    (req) => {
      try {
        const body = JSON.parse(req.body) as Record<string, unknown>;
        process.stdout.write(`${formatEventLine(body)}\n`);
        return { status: 204 };
      } catch {
        return { status: 400 };
      }
    },
    { record: false, port, host: '0.0.0.0' },
  );
  process.stdout.write(`receiver listening on port ${new URL(receiver.url).port}\n`);
  const stop = (): void => void receiver.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`receiver failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
