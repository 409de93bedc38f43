// Load for the bench: rows of the reference schema that produce a known number of events, in a
// realistic mix (a backlog written in transactions of ~ROWS_PER_TX rows), and live traffic.

import type { Connection } from 'mysql2/promise';

const ROWS_PER_TX = 1000;

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
export function sqlTime(ms: number): string {
  const d = new Date(ms);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  return `${date} ${time}.${pad(d.getUTCMilliseconds(), 3)}`;
}

interface Batch {
  queueLog: string[];
  interactions: string[];
  events: number;
}

let seq = 0;
/** Rows one unit of `batch` writes (7 queue_log, 3 interactions) and the events they produce. */
const ROWS_PER_UNIT = 10;
const EVENTS_PER_UNIT = 13;

/**
 * `units` groups of 13 events: 3 AgentLog, 2 AgentBreak, 1 AgentRingNoAnswer (after its ENTERQUEUE),
 * 2 digital legs inserted finished (AssignInteraction + FinishInteraction each), 1 telephony leg
 * inserted finished and dispositioned (AssignInteraction + FinishInteraction + InteractionDisposition).
 * The agent events' order keys are those of `agents` agents in turn.
 */
function batch(units: number, timeMs: number, agents: number): Batch {
  const q: string[] = [];
  const i: string[] = [];
  let events = 0;
  const t = `'${sqlTime(timeMs)}'`;
  for (let u = 0; u < units; u++) {
    const n = seq++;
    const agent = `agent${n % agents}`;
    const callid = `c${n}`;
    q.push(`(${t},'','','${agent}','AGENTLOGIN',NULL,NULL)`, `(${t},'','','${agent}','PAUSE','Lunch',NULL)`);
    q.push(`(${t},'','','${agent}','UNPAUSE','Lunch',NULL)`, `(${t},'','','${agent}','AGENTLOGOFF',NULL,NULL)`);
    q.push(`(${t},'','','${agent}','AGENTLOGIN',NULL,NULL)`);
    q.push(`(${t},'${callid}','Sales<-','','ENTERQUEUE',NULL,'5989${pad(n % 10_000_000, 7)}')`);
    q.push(`(${t},'${callid}','Sales<-','SIP/${2000 + (n % 200)}','RINGNOANSWER','15000',NULL)`);
    events += 6;
    const day = sqlTime(timeMs).slice(0, 19);
    i.push(`('w${n}a','${day}','${day}','Chat<-','webchat','${agent}','c${n}@example.com',NULL,1)`);
    i.push(`('w${n}b','${day}','${day}','Chat<-','whatsapp','${agent}','5989${pad(n % 10_000_000, 7)}',NULL,1)`);
    i.push(`('t${n}','${day}','${day}','Sales<-','telephony','${agent}','5989${pad(n % 10_000_000, 7)}',3,1)`);
    events += EVENTS_PER_UNIT - 6;
  }
  return { queueLog: q, interactions: i, events };
}

/** Each agent's next state in the live load: login, break, back, logoff, and around again. */
const LIVE_CYCLE: ReadonlyArray<[string, string]> = [
  ['AGENTLOGIN', 'NULL'],
  ['PAUSE', "'Lunch'"],
  ['UNPAUSE', "'Lunch'"],
  ['AGENTLOGOFF', 'NULL'],
];
let liveSeq = 0;

/**
 * Live traffic as a contact center makes it: `events` agent events, each from the next of 200 agents
 * in turn (so one agent's events are ~200 events apart), stamped with the write time in milliseconds.
 */
function liveRows(events: number, timeMs: number): string[] {
  const t = `'${sqlTime(timeMs)}'`;
  return Array.from({ length: events }, () => {
    const n = liveSeq++;
    const [event, data1] = LIVE_CYCLE[Math.floor(n / 200) % LIVE_CYCLE.length]!;
    return `(${t},'','','agent${n % 200}','${event}',${data1},NULL)`;
  });
}

async function writeBatch(c: Connection, b: Batch): Promise<void> {
  await c.beginTransaction();
  if (b.queueLog.length)
    await c.query(
      `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, ` +
        `agent, event, data1, data2) VALUES ${b.queueLog.join(',')}`,
    );
  if (b.interactions.length) {
    await c.query(
      `INSERT INTO ccrepo.interactions (guid, start_date, end_date, campaign, channel, ` +
        `agent, clientId, disposition_id, finished) VALUES ${b.interactions.join(',')}`,
    );
  }
  await c.commit();
}

/**
 * Writes about `events` events in transactions of ~ROWS_PER_TX rows; returns the exact count. The
 * full mix writes exactly one row per event (ENTERQUEUE rows and disposition pairs even out).
 */
export async function writeBacklog(c: Connection, events: number, agents = 200): Promise<number> {
  let written = 0;
  while (written < events) {
    const units = Math.min(ROWS_PER_TX / ROWS_PER_UNIT, Math.ceil((events - written) / EVENTS_PER_UNIT));
    const b = batch(units, Date.now(), agents);
    await writeBatch(c, b);
    written += b.events;
  }
  return written;
}

/**
 * Live traffic for `seconds`: every 10 ms, one autocommit INSERT of the events due by then at
 * `rate` events/s. Returns how many were written.
 */
export async function liveTraffic(c: Connection, rate: number, seconds: number): Promise<number> {
  const tickMs = 10;
  const startAt = Date.now();
  const endAt = startAt + seconds * 1000;
  let written = 0;
  let nextAt = startAt;
  while (Date.now() < endAt) {
    const due = Math.floor(((Date.now() - startAt) * rate) / 1000) + 1 - written;
    if (due > 0) {
      await c.query(
        `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, agent, ` +
          `event, data1, data2) VALUES ${liveRows(due, Date.now()).join(',')}`,
      );
      written += due;
    }
    nextAt += tickMs;
    await new Promise((r) => setTimeout(r, Math.max(0, nextAt - Date.now())));
  }
  return written;
}
