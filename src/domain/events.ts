// The six uContact webhook events (five documented, plus AssignInteraction): names, payload field
// order and types, and the envelope codes.
// This table is the single source of truth for payload shape; rules may only fill these fields.

export const EVENT_NAMES = [
  'AgentRingNoAnswer',
  'AgentLog',
  'AgentBreak',
  'FinishInteraction',
  'InteractionDisposition',
  'AssignInteraction',
] as const;

export type EventName = (typeof EVENT_NAMES)[number];

export type FieldType = 'string' | 'boolean' | 'number' | 'datetime';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
}

export interface EventSpec {
  readonly name: EventName;
  /** 1 = agent events, 4 = interaction events (envelope body `Category`). */
  readonly category: 1 | 4;
  /** Envelope body `Code` within the category. */
  readonly code: number;
  /** Payload fields after `event` and `date`, in the order they are written. */
  readonly fields: readonly FieldSpec[];
}

const f = (name: string, type: FieldType): FieldSpec => ({ name, type });

export const EVENT_SPECS: Readonly<Record<EventName, EventSpec>> = {
  AgentRingNoAnswer: {
    name: 'AgentRingNoAnswer',
    category: 1,
    code: 1,
    fields: [
      f('agent', 'string'),
      f('agentNumber', 'string'),
      f('agentFullName', 'string'),
      f('callerIdNum', 'string'),
      f('campaign', 'string'),
    ],
  },
  AgentLog: { name: 'AgentLog', category: 1, code: 2, fields: [f('agent', 'string'), f('isLogin', 'boolean')] },
  AgentBreak: {
    name: 'AgentBreak',
    category: 1,
    code: 3,
    fields: [f('agent', 'string'), f('motive', 'string'), f('isBreak', 'boolean')],
  },
  FinishInteraction: {
    name: 'FinishInteraction',
    category: 4,
    code: 1,
    fields: [
      f('guid', 'string'),
      f('campaign', 'string'),
      f('agent', 'string'),
      f('channel', 'string'),
      f('clientId', 'string'),
      f('startDate', 'datetime'),
      f('endDate', 'datetime'),
      f('duration', 'number'),
    ],
  },
  InteractionDisposition: {
    name: 'InteractionDisposition',
    category: 4,
    code: 2,
    fields: [
      f('guid', 'string'),
      f('campaign', 'string'),
      f('agent', 'string'),
      f('clientId', 'string'),
      f('dispositionId', 'number'),
      f('l1', 'string'),
      f('l2', 'string'),
      f('l3', 'string'),
    ],
  },
  AssignInteraction: {
    name: 'AssignInteraction',
    category: 4,
    code: 3,
    fields: [
      f('guid', 'string'),
      f('campaign', 'string'),
      f('agent', 'string'),
      f('channel', 'string'),
      f('clientId', 'string'),
    ],
  },
};

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && (EVENT_NAMES as readonly string[]).includes(value);
}

/** A payload value as it appears in the JSON body. */
export type PayloadValue = string | number | boolean | null;

/**
 * One event produced from one row change, ready for the outbox.
 * `body` is the byte-exact uContact JSON body, rendered once at enqueue time.
 */
export interface BridgeEvent {
  /** Deterministic id derived from binlog coordinates (a UUID string). */
  readonly id: string;
  readonly name: EventName;
  /** Ordering key: events with the same key reach one URL in commit order. */
  readonly orderKey: string;
  /** When the event happened, epoch milliseconds (UTC). */
  readonly occurredAtMs: number;
  /** The uContact JSON body. */
  readonly body: string;
}
