// The records the state store keeps and hands out: events with their deliveries (event x URL), mirror
// changes, dead letters, and the delivery status codes stored in `deliveries.status`. Invariant: these
// codes are the ones the schema's partial indexes are written against; a new status is a new schema version.

import type { EventName } from '../domain/events.js';
import type { BinlogPosition, Row } from '../domain/row-change.js';

/**
 * `staged`: written for a source transaction whose commit has not been read yet; invisible to delivery.
 * `cancelled`: its registration was removed (or its URL's backlog discarded) before it was sent; kept.
 */
export const DeliveryStatus = { pending: 0, delivered: 1, dead: 2, staged: 3, cancelled: 4 } as const;

export interface EnqueuedEvent {
  readonly id: string;
  readonly name: EventName;
  readonly orderKey: string;
  readonly occurredAtMs: number;
  /**
   * Binlog time of the source commit it was made from (epoch ms; for a part of a large transaction
   * stored before its commit, its row event's time). Default: when the store writes it.
   */
  readonly committedAtMs?: number;
  readonly body: string;
  readonly urls: readonly string[];
  readonly source: BinlogPosition;
}

/** A replayed event and the URLs it gets a new delivery for; `seq` when the event is already stored. */
export interface ReplayInsert {
  readonly event: EnqueuedEvent;
  readonly seq: number | undefined;
  readonly urls: readonly string[];
}

export interface MirrorChange {
  readonly table: string;
  readonly pk: string;
  /** The row after the change, or null when it was deleted. */
  readonly row: Row | null;
}

export interface CommitBatch {
  readonly events: readonly EnqueuedEvent[];
  readonly mirror: readonly MirrorChange[];
  readonly checkpoint: BinlogPosition;
  /** The source transaction's commit time and GTID, stored with the checkpoint for `status`. */
  readonly commitTimeMs?: number | undefined;
  readonly gtid?: string | undefined;
}

/** The checkpoint as stored: a position, with the commit time and GTID of the transaction before it. */
export interface StoredCheckpoint extends BinlogPosition {
  readonly commitTimeMs?: number;
  readonly gtid?: string;
}

/** The stored form of a batch's checkpoint (`status` reads the commit time and GTID beside the position). */
export function checkpointJson(batch: CommitBatch): string {
  const { file, pos } = batch.checkpoint;
  return JSON.stringify({ file, pos, commitTimeMs: batch.commitTimeMs, gtid: batch.gtid });
}

/**
 * A pending delivery as the dispatcher holds it in memory: everything one attempt needs, so sending
 * never reads the store. The mutable fields mirror what the outcome writes persist.
 */
export interface Delivery {
  readonly id: number;
  readonly url: string;
  readonly orderKey: string;
  readonly eventId: string;
  readonly eventName: EventName;
  readonly occurredAtMs: number;
  /** Binlog time of its source commit (epoch ms): delivery latency and pending age count from it. */
  readonly committedAtMs: number;
  readonly body: string;
  attempts: number;
  nextAttemptAtMs: number;
  firstAttemptAtMs: number | null;
}

/** Deliveries a part of a large transaction stored as staged, counted per URL. */
export type StagedCounts = Map<string, number>;

export interface DeliveryRow {
  readonly id: number;
  readonly url: string;
  readonly orderKey: string;
  readonly status: number;
  readonly attempts: number;
  readonly nextAttemptAtMs: number;
  readonly firstAttemptAtMs: number | null;
  readonly createdAtMs: number;
  readonly eventId: string;
  readonly eventName: EventName;
  readonly occurredAtMs: number;
  readonly body: string;
}

export interface DeadLetter {
  readonly id: number;
  readonly url: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly attempts: number;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly updatedAtMs: number;
}
