// A Sender that runs the HTTP attempts on a worker thread (sender-worker.ts), so the dispatcher's
// thread keeps the binlog, the rules and the outbox while another core does the HTTP work. Attempts
// go over in one message per event-loop turn and outcomes come back the same way.
//
// Invariants: send() never rejects and always settles. If the worker dies, every attempt it held is
// answered as a retryable network failure (the delivery is retried, never lost) and the next send()
// starts a new worker. Options are checked here first, so a bad secret or CA file fails at start-up
// with its own error, not inside the thread.

import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { loadCaFile } from './tls-trust.js';
import { createSigner } from './signing.js';
import type { Sender } from './dispatcher.js';
import type { AttemptOutcome, DeliveryAttempt } from './types.js';
import { toTuple, type AttemptTuple, type FromWorker, type ToWorker, type WorkerSenderOptions } from './worker-protocol.js';

/** The worker entry next to this module: .js when built, .ts when run from source (tests, bench). */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = fileURLToPath(new URL(`./sender-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url));

/**
 * Attempts per connection the dispatcher may hand over beyond those running: enough that connections
 * stay busy across a round trip through the dispatcher's thread (several ms while a backlog is read).
 * 32 rather than 8 (or 3): catch-up 12.7-13.5k vs 11.6-12.2k events/s in paired bench runs; the worker
 * then reads larger batches, at less CPU per request.
 */
export const QUEUED_PER_CONNECTION = 32;

/** Run from source, the worker registers tsx itself: `--import tsx` does not reach worker threads. */
function newWorker(workerData: WorkerSenderOptions): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_ENTRY, { workerData, stdout: false, stderr: false });
  const entry = JSON.stringify(pathToFileURL(WORKER_ENTRY).href);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData, stdout: false, stderr: false });
}

export class WorkerSender implements Sender {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, (outcome: AttemptOutcome) => void>();
  private outgoing: AttemptTuple[] = [];
  private flushScheduled = false;
  private seq = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WorkerSenderOptions) {
    createSigner(options.signingSecrets);
    if (options.caFile !== undefined) loadCaFile(options.caFile);
    this.worker = this.spawn();
  }

  send(attempt: DeliveryAttempt): Promise<AttemptOutcome> {
    if (this.closing) return Promise.resolve(workerFailure('the sender is shutting down'));
    this.worker ??= this.spawn();
    const seq = ++this.seq;
    const done = new Promise<AttemptOutcome>((resolve) => this.waiting.set(seq, resolve));
    this.outgoing.push(toTuple(seq, attempt));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return done;
  }

  /** Attempts still waiting in the worker for a connection (of `url`, or all) come back `unsent`. */
  cancelQueued(url?: string): void {
    if (!this.worker) return;
    this.flush();
    this.worker.postMessage({ type: 'cancel', ...(url === undefined ? {} : { url }) } satisfies ToWorker);
  }

  /** Lets attempts in flight finish (each bounded by its timeout), then stops the worker. */
  close(): Promise<void> {
    this.closing ??= this.closeWorker();
    return this.closing;
  }

  private async closeWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.flush();
    await new Promise<void>((resolve) => {
      const onMessage = (msg: FromWorker): void => {
        if (msg.type === 'closed') resolve();
      };
      worker.on('message', onMessage);
      worker.once('exit', () => resolve());
      worker.postMessage({ type: 'close' } satisfies ToWorker);
    });
    await worker.terminate();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outgoing.length === 0 || !this.worker) return;
    const batch = this.outgoing;
    this.outgoing = [];
    this.worker.postMessage({ type: 'send', batch } satisfies ToWorker);
  }

  private settle(seq: number, outcome: AttemptOutcome): void {
    const resolve = this.waiting.get(seq);
    this.waiting.delete(seq);
    resolve?.(outcome);
  }

  private spawn(): Worker {
    const worker = newWorker(this.options);
    worker.on('message', (msg: FromWorker) => {
      if (msg.type !== 'outcomes') return;
      const d = msg.delivered;
      for (let i = 0; i < d.length; i += 3) this.settle(d[i]!, { kind: 'delivered', status: d[i + 1]!, durationMs: d[i + 2]! });
      for (const { seq, outcome } of msg.other) this.settle(seq, outcome);
    });
    const fail = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // Everything it held is answered as retryable: the dispatcher retries, nothing is lost.
      const waiting = [...this.waiting.values()];
      this.waiting.clear();
      this.outgoing = [];
      for (const resolve of waiting) resolve(workerFailure(why));
    };
    worker.on('error', (err) => fail(`delivery worker failed: ${err.message}`));
    worker.on('exit', (code) => fail(`delivery worker exited (code ${code})`));
    return worker;
  }
}

function workerFailure(message: string): AttemptOutcome {
  return { kind: 'retry', error: { code: 'UCW_ERR_DELIVERY_NETWORK', message }, durationMs: 0 };
}
