// The delivery worker's lanes: which handed-over attempt starts when. Each URL has a lane that runs at
// most its concurrency (connections) of chains at once, the rest waiting in order; all lanes together
// (but rate-limited ones, bounded by their rate) run at most `maxRunning` chains, and a freed slot goes
// to the waiting lane running the fewest, so one URL with a deep backlog cannot keep the others waiting.
//
// Why a total: every running request holds a connection, and a connection costs the worker CPU and
// memory whether it is needed or not (to fast receivers, 20 URLs at 32 connections each delivered 27%
// fewer per second than at 8 each, bench/RESULTS.md). The total keeps a fan-out near what it needs.

import { StartWindow } from '../rate-limit.js';
import type { AttemptOutcome } from '../types.js';
import { notBeforeOf, seqOf, urlOf, type AttemptTuple } from './protocol.js';

export interface LaneSettings {
  readonly concurrency: number;
  readonly rateLimitPerSecond?: number | undefined;
}

export interface LanesOptions {
  /** Sends one attempt; never rejects (every attempt gets an outcome). */
  readonly send: (tuple: AttemptTuple) => Promise<AttemptOutcome>;
  /** Where each attempt's outcome goes (sent or answered `unsent`). */
  readonly report: (seq: number, outcome: AttemptOutcome) => void;
  readonly settingsFor: (url: string) => LaneSettings;
  /** Chains running at once, all URLs together. */
  readonly maxRunning: number;
  readonly now?: () => number;
}

/**
 * Attempts that go one after another (see Sender.sendInOrder): the next starts, on the same
 * connection slot, only once the one before was delivered; after any other outcome, or a cancel,
 * the rest are answered `unsent` without a request. Most chains have one attempt.
 */
interface Chain {
  readonly tuples: AttemptTuple[];
  next: number;
  /** The lane's cancel count when the chain started: a cancel since stops it. */
  cancels: number;
}

/** One URL's chains: at most `connections` (its concurrency) running, the rest waiting in order. */
interface Lane {
  readonly connections: number;
  running: number;
  waiting: Chain[];
  /** Cancels so far (a counter, not a set of running chains: no allocation per chain). */
  cancels: number;
  /** Running chains whose next attempt waits for its not-before time (a rate-limited URL's pace). */
  paced: Map<Chain, NodeJS.Timeout> | undefined;
  /** A rate-limited URL's recent starts: a catch-up after lateness never bursts past the limit. */
  readonly window: StartWindow | undefined;
}

/**
 * Whether a lane's chains count against the total. A rate-limited URL's (those with a start window)
 * do not: its rate bounds its connections, and its chains wait for their times holding a slot that
 * would otherwise sit idle.
 */
const counted = (lane: Lane): boolean => lane.window === undefined;

export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  /** Lanes with a chain waiting (and room of their own, checked when a slot frees), oldest first. */
  private readonly ready = new Set<Lane>();
  private running = 0;
  private readonly now: () => number;

  constructor(private readonly opts: LanesOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Chains running now that count against the total (all URLs but rate-limited ones). */
  get runningChains(): number {
    return this.running;
  }

  /** A chain handed over: started at once if its lane and the total have room, else queued in order. */
  enqueue(tuples: AttemptTuple[]): void {
    const url = urlOf(tuples[0]!);
    let lane = this.lanes.get(url);
    if (!lane) {
      const { concurrency, rateLimitPerSecond } = this.opts.settingsFor(url);
      lane = {
        connections: Math.max(1, concurrency),
        running: 0,
        waiting: [],
        cancels: 0,
        paced: undefined,
        window: rateLimitPerSecond === undefined ? undefined : new StartWindow(rateLimitPerSecond),
      };
      this.lanes.set(url, lane);
    }
    lane.waiting.push({ tuples, next: 0, cancels: 0 });
    this.ready.add(lane);
    this.admit();
  }

  /** Answers the waiting attempts of `url` (or of every URL) `unsent`; running chains stop after their attempt. */
  cancel(url: string | undefined): void {
    const paced: Array<[Lane, Chain, NodeJS.Timeout]> = [];
    // Every lane cancelled is emptied before any slot is freed: a freed slot must not start a chain
    // that this same cancel is about to answer unsent.
    for (const [laneUrl, lane] of this.lanes) {
      if (url !== undefined && laneUrl !== url) continue;
      for (const chain of lane.waiting) this.unsent(chain);
      lane.waiting = [];
      this.ready.delete(lane);
      lane.cancels++;
      if (lane.paced) {
        for (const [chain, timer] of lane.paced) paced.push([lane, chain, timer]);
        lane.paced.clear();
      }
    }
    // One waiting for its time has nothing in flight: answered now (a stop does not wait for its time).
    for (const [lane, chain, timer] of paced) {
      clearTimeout(timer);
      this.finish(lane, chain);
    }
  }

  /**
   * Free slots go one at a time to the ready lane running the fewest chains (the one waiting longest
   * among equals): when the total is what holds URLs back, it is shared out evenly. A lane outside
   * the total (rate-limited) starts whenever it has room of its own.
   */
  private admit(): void {
    for (;;) {
      const full = this.running >= this.opts.maxRunning;
      let best: Lane | undefined;
      for (const lane of this.ready) {
        // A lane at its own limit comes back when one of its chains finishes.
        if (lane.waiting.length === 0 || lane.running >= lane.connections) this.ready.delete(lane);
        else if (!counted(lane)) {
          best = lane;
          break;
        } else if (!full && (!best || lane.running < best.running)) best = lane;
        if (best?.running === 0) break;
      }
      if (!best) return;
      this.ready.delete(best);
      this.start(best, best.waiting.shift()!);
      if (best.waiting.length > 0) this.ready.add(best);
    }
  }

  private start(lane: Lane, chain: Chain): void {
    lane.running++;
    if (counted(lane)) this.running++;
    chain.cancels = lane.cancels;
    this.step(lane, chain);
  }

  /**
   * The chain's next attempt: at once, or at its not-before time and no sooner than the lane's start
   * window allows (the lane's timers keep a rate's pace; checked again when the timer fires).
   */
  private step(lane: Lane, chain: Chain): void {
    const now = this.now();
    const waitMs = Math.max(notBeforeOf(chain.tuples[chain.next]!), lane.window?.earliest() ?? 0) - now;
    if (waitMs <= 0) {
      lane.window?.record(now);
      this.send(lane, chain);
      return;
    }
    lane.paced ??= new Map();
    lane.paced.set(
      chain,
      setTimeout(() => {
        lane.paced!.delete(chain);
        if (chain.cancels !== lane.cancels) this.finish(lane, chain);
        else this.step(lane, chain);
      }, waitMs),
    );
  }

  private send(lane: Lane, chain: Chain): void {
    if (chain.cancels !== lane.cancels) {
      // Cancelled while it waited for its time: nothing of it is sent.
      this.finish(lane, chain);
      return;
    }
    const tuple = chain.tuples[chain.next++]!;
    void this.opts.send(tuple).then((outcome) => {
      this.opts.report(seqOf(tuple), outcome);
      if (outcome.kind === 'delivered' && chain.cancels === lane.cancels && chain.next < chain.tuples.length) {
        this.step(lane, chain);
        return;
      }
      this.finish(lane, chain);
    });
  }

  /** The rest of the chain is answered unsent and its slot goes to the next lane in turn. */
  private finish(lane: Lane, chain: Chain): void {
    this.unsent(chain);
    lane.running--;
    if (counted(lane)) this.running--;
    if (lane.waiting.length > 0) this.ready.add(lane);
    this.admit();
  }

  /** Answers the chain's attempts not started yet as `unsent`. */
  private unsent(chain: Chain): void {
    while (chain.next < chain.tuples.length) this.opts.report(seqOf(chain.tuples[chain.next++]!), { kind: 'unsent' });
  }
}
