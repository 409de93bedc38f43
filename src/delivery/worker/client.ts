// The Sender the scheduler calls: it runs the HTTP attempts on a worker thread (thread.ts), so the
// scheduler's thread keeps the binlog, the rules and the outbox while another core does the HTTP work.
// Attempts go over in one message per event-loop turn and outcomes come back the same way.
//
// Invariants: every attempt handed over is answered. If the worker dies, every attempt it had is
// answered (the first open one of each chain as a retryable network failure, so the delivery is
// retried, never lost) and the next chain starts a new worker. Options are checked here first, so a
// bad secret or CA file fails at start-up with its own error, not inside the thread.

import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { OutcomeCallback, Sender } from '../sender.js';
import { createSigner } from '../signing.js';
import { loadCaFile } from '../tls-trust.js';
import type { AttemptOutcome, DeliveryAttempt } from '../types.js';
import {
  cancelMessage,
  closeMessage,
  decodeOutcomes,
  encodeAttempt,
  sendMessage,
  type AttemptTuple,
  type FromWorker,
  type WorkerOptions,
} from './protocol.js';

/** The worker entry next to this module: .js when built, .ts when run from source (tests, bench). */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_ENTRY = fileURLToPath(new URL(`./thread${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url));

/**
 * Attempts per connection the scheduler may hand over beyond those running: enough that connections
 * stay busy across a round trip through the scheduler's thread (several ms while a backlog is read).
 */
export const QUEUED_PER_CONNECTION = 32;

/** Run from source, the worker registers tsx itself: `--import tsx` does not reach worker threads. */
function newWorker(workerData: WorkerOptions): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_ENTRY, { workerData, stdout: false, stderr: false });
  const entry = JSON.stringify(pathToFileURL(WORKER_ENTRY).href);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${entry}); })`;
  return new Worker(boot, { eval: true, workerData, stdout: false, stderr: false });
}

export class WorkerClient implements Sender {
  private worker: Worker | undefined;
  /** Attempts handed over and not answered yet, by seq: their chain's callback and first seq. */
  private readonly waiting = new Map<number, PendingChain>();
  private outgoing: AttemptTuple[] = [];
  private flushScheduled = false;
  private seq = 0;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WorkerOptions) {
    createSigner(options.signingSecrets);
    if (options.caFile !== undefined) loadCaFile(options.caFile);
    this.worker = this.spawn();
  }

  sendInOrder(attempts: readonly DeliveryAttempt[], onOutcome: OutcomeCallback): void {
    if (this.closing) {
      for (let i = 0; i < attempts.length; i++)
        onOutcome(i, i === 0 ? workerFailure('the sender is shutting down') : UNSENT);
      return;
    }
    this.worker ??= this.spawn();
    const chain: PendingChain = { firstSeq: this.seq + 1, onOutcome };
    const last = attempts.length - 1;
    for (let i = 0; i <= last; i++) {
      const seq = ++this.seq;
      this.waiting.set(seq, chain);
      this.outgoing.push(encodeAttempt(seq, attempts[i]!, i < last));
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
  }

  cancelQueued(url?: string): void {
    if (!this.worker) return;
    this.flush();
    this.worker.postMessage(cancelMessage(url));
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
      worker.postMessage(closeMessage());
    });
    await worker.terminate();
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outgoing.length === 0 || !this.worker) return;
    const batch = this.outgoing;
    this.outgoing = [];
    this.worker.postMessage(sendMessage(batch));
  }

  private settle(seq: number, outcome: AttemptOutcome): void {
    const chain = this.waiting.get(seq);
    if (!chain) return;
    this.waiting.delete(seq);
    chain.onOutcome(seq - chain.firstSeq, outcome);
  }

  private spawn(): Worker {
    const worker = newWorker(this.options);
    const settle = (seq: number, outcome: AttemptOutcome): void => this.settle(seq, outcome);
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'outcomes') decodeOutcomes(msg, settle);
    });
    const fail = (why: string): void => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // Everything it had is answered, in order: the first open attempt of each chain as a
      // retryable failure (the scheduler retries it; nothing is lost), the rest of the chain unsent.
      const waiting = [...this.waiting];
      this.waiting.clear();
      this.outgoing = [];
      const failed = new Set<PendingChain>();
      for (const [seq, chain] of waiting) {
        const first = !failed.has(chain);
        failed.add(chain);
        chain.onOutcome(seq - chain.firstSeq, first ? workerFailure(why) : UNSENT);
      }
    };
    worker.on('error', (err) => fail(`delivery worker failed: ${err.message}`));
    worker.on('exit', (code) => fail(`delivery worker exited (code ${code})`));
    return worker;
  }
}

interface PendingChain {
  readonly firstSeq: number;
  readonly onOutcome: OutcomeCallback;
}

const UNSENT: AttemptOutcome = { kind: 'unsent' };

function workerFailure(message: string): AttemptOutcome {
  return { kind: 'retry', error: { code: 'UCW_ERR_DELIVERY_NETWORK', message }, durationMs: 0 };
}
