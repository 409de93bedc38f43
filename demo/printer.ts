// Terminal rendering of received webhook bodies for the demo: one aligned line per event, and a
// one-line running tally. Pure (no I/O, no clock). Invariant: every output is exactly one line,
// whatever the body holds - control characters from source rows are flattened to spaces.

import { EVENT_NAMES } from '../src/domain/events.js';

/** Width of the event-name column: the longest name ('InteractionDisposition', 22) plus a gap of 2. */
const NAME_COLUMN_CHARS = 24;
/** Width of the agent column of agent events (then one space, so a longer name never touches the text). */
const AGENT_COLUMN_CHARS = 9;
/** Width of the channel column of interaction events ('telephony' is the longest common channel). */
const CHANNEL_COLUMN_CHARS = 9;
/** Longest raw dump printed for a body that is not one of the six events. */
const MAX_UNKNOWN_BODY_CHARS = 160;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]+/g;

function oneLine(text: string): string {
  return text.replace(CONTROL_CHARS, ' ');
}

/** A payload value as text: null/absent shown as '-', so a missing fact is visible, not blank. */
function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return oneLine(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return oneLine(JSON.stringify(value));
}

function formatDuration(value: unknown): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '-';
  const total = Math.max(0, Math.round(value));
  if (total < SECONDS_PER_MINUTE) return `${total}s`;
  const seconds = String(total % SECONDS_PER_MINUTE).padStart(2, '0');
  if (total < SECONDS_PER_HOUR) return `${Math.floor(total / SECONDS_PER_MINUTE)}m${seconds}s`;
  const minutes = String(Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE)).padStart(2, '0');
  return `${Math.floor(total / SECONDS_PER_HOUR)}h${minutes}m${seconds}s`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The flat uContact body, also when the endpoint was configured for the envelope form
 * (`{Id, CreationDateUtc, Category, Code, Event, Data}`), so the demo prints both the same way.
 */
function flatten(body: Record<string, unknown>): Record<string, unknown> {
  if (body.event === undefined && typeof body.Event === 'string' && isRecord(body.Data)) {
    return { event: body.Event, ...body.Data };
  }
  return body;
}

function facts(b: Record<string, unknown>): string | undefined {
  const agent = `${show(b.agent).padEnd(AGENT_COLUMN_CHARS)} `;
  switch (b.event) {
    case 'AgentLog':
      return `${agent}${b.isLogin === true ? 'logged in' : 'logged off'}`;
    case 'AgentBreak':
      return `${agent}${b.isBreak === true ? 'on break' : 'back from break'} (${show(b.motive)})`;
    case 'AgentRingNoAnswer':
      return (
        `${agent}did not answer ${show(b.callerIdNum)} on ${show(b.campaign)}` +
        ` (ext ${show(b.agentNumber)}, ${show(b.agentFullName)})`
      );
    case 'FinishInteraction':
      return (
        `${show(b.channel).padEnd(CHANNEL_COLUMN_CHARS)} guid=${show(b.guid)} agent=${show(b.agent)}` +
        ` campaign=${show(b.campaign)} client=${show(b.clientId)} ${formatDuration(b.duration)}`
      );
    case 'AssignInteraction':
      return (
        `${show(b.channel).padEnd(CHANNEL_COLUMN_CHARS)} guid=${show(b.guid)} assigned to ${show(b.agent)}` +
        ` campaign=${show(b.campaign)} client=${show(b.clientId)}`
      );
    case 'InteractionDisposition': {
      const path = [b.l1, b.l2, b.l3].filter((l) => l !== null && l !== undefined && l !== '').map(show);
      return (
        `${path.length > 0 ? path.join(' > ') : '-'} (id ${show(b.dispositionId)})` +
        ` guid=${show(b.guid)} agent=${show(b.agent)} client=${show(b.clientId)}`
      );
    }
    default:
      return undefined;
  }
}

/** One readable line for one received webhook body, e.g. `AgentBreak              jdoe      on break (Lunch)`. */
export function formatEventLine(body: Record<string, unknown>): string {
  const b = flatten(body);
  const name = show(b.event);
  const known = facts(b);
  if (known !== undefined) return `${name.padEnd(NAME_COLUMN_CHARS)}${known}`.trimEnd();
  const raw = oneLine(JSON.stringify(body));
  const clipped = raw.length > MAX_UNKNOWN_BODY_CHARS ? `${raw.slice(0, MAX_UNKNOWN_BODY_CHARS - 3)}...` : raw;
  return `${name.padEnd(NAME_COLUMN_CHARS)}(unrecognized) ${clipped}`;
}

/**
 * One line with the count per event name: the six events always, in their canonical order (so the
 * line keeps its shape as counts grow), then any other names alphabetically, then the total.
 */
export function formatCounts(counts: Record<string, number>): string {
  const known: readonly string[] = EVENT_NAMES;
  const extra = Object.keys(counts)
    .filter((k) => !known.includes(k))
    .sort();
  const names = [...known, ...extra];
  let total = 0;
  const parts = names.map((name) => {
    const n = counts[name] ?? 0;
    total += n;
    return `${oneLine(name)}=${n}`;
  });
  return `${parts.join('  ')}  total=${total}`;
}
