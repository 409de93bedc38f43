// Simulated contact-center traffic written into the reference uContact schema (ccdata/ccrepo), for
// `npm run demo` and for tests. Each agent is a small state machine advanced one agent per tick;
// steps never overlap, an agent's state only moves once its rows are committed, and the same seed
// replays the same sequence of actions (times come from the wall clock, written as UTC).

import mysql from 'mysql2/promise';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

export interface SimulatorOptions {
  /** mysql://user:pass@host:port with INSERT/UPDATE rights on ccdata and ccrepo. */
  adminUrl: string;
  /** Number of simulated agents; default 4. */
  agents?: number;
  /** Pause between two steps, milliseconds; default 700. */
  tickMs?: number;
  /** PRNG seed; default: random (logged, so a run can be replayed). */
  seed?: number;
  /** Where progress and step errors go; default stderr. */
  log?: (line: string) => void;
}

const DEFAULT_AGENTS = 4;
const DEFAULT_TICK_MS = 700;
const POOL_CONNECTIONS = 2;
/** First PBX extension handed out; agent i gets FIRST_EXTENSION + i. */
const FIRST_EXTENSION = 2001;

/** Per-turn odds for an idle agent; whatever is left over means "nothing happens this turn". */
const P_INBOUND_CALL = 0.4;
const P_DIGITAL_INTERACTION = 0.15;
const P_BREAK = 0.1;
const P_LOGOFF = 0.04;
const P_LOGIN = 0.7;
/** Odds that a queued call first rings another idle agent who does not answer. */
const P_RING_NO_ANSWER = 0.35;
/** Odds that the agent, not the caller, ends a call (COMPLETEAGENT vs COMPLETECALLER). */
const P_AGENT_HANGS_UP = 0.5;
/** How many of its own turns an agent stays on a call or a break. */
const CALL_TURNS_MIN = 1;
const CALL_TURNS_MAX = 4;
const BREAK_TURNS_MIN = 2;
const BREAK_TURNS_MAX = 5;
/** Digital interactions are written already finished: they started this long before now. */
const DIGITAL_DURATION_S_MIN = 30;
const DIGITAL_DURATION_S_MAX = 900;
const MS_PER_SECOND = 1000;

const AGENT_NAMES = [
  'José Pérez',
  'María Fernández',
  'Lucía Gómez',
  'Martín Rodríguez',
  'Sofía Núñez',
  'Joaquín Álvarez',
  'Valentina Muñoz',
  'Agustín Peña',
  'Camila Suárez',
  'Andrés Ibáñez',
] as const;

const CUSTOMER_NAMES = [
  'Ana Silva',
  'Bruno Acosta',
  'Inés Cabrera',
  'Diego Olivera',
  'Elena Da Costa',
  'Tomás Ríos',
] as const;
const PHONE_CAMPAIGNS = ['Sales<-', 'Support<-', 'Cobranzas<-'] as const;
const DIGITAL_CHANNELS = [
  { channel: 'webchat', campaign: 'Web Chat<-' },
  { channel: 'whatsapp', campaign: 'WhatsApp Atención<-' },
] as const;
const BREAK_REASONS = ['Lunch', 'Coffee ☕', 'Training', 'Baño', 'Supervisor meeting'] as const;
const CHANNEL_TECHS = ['SIP', 'PJSIP'] as const;

/** Disposition tree seeded into an empty ccdata.dispositions: label, then children. */
interface DispositionNode {
  readonly value: string;
  readonly children?: readonly DispositionNode[];
}
const DISPOSITION_TREE: readonly DispositionNode[] = [
  {
    value: 'Sale',
    children: [{ value: 'Closed', children: [{ value: 'Paid' }, { value: 'Pending payment' }] }, { value: 'Upsell' }],
  },
  { value: 'No sale', children: [{ value: 'Not interested' }, { value: 'Price too high' }, { value: 'Wrong number' }] },
  {
    value: 'Callback',
    children: [
      { value: 'Scheduled', children: [{ value: 'Tomorrow' }, { value: 'Next week' }] },
      { value: 'Customer busy' },
    ],
  },
  { value: 'Información', children: [{ value: 'Envío de catálogo' }] },
];

/** mulberry32: tiny, fast, good enough for traffic shapes; the whole run derives from one 32-bit seed. */
class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }
  /** A v4-shaped UUID from the PRNG, so interaction guids replay with the seed. */
  uuid(): string {
    const hex = Array.from({ length: 32 }, () => this.int(0, 15).toString(16));
    hex[12] = '4';
    hex[16] = ((this.int(0, 15) & 0x3) | 0x8).toString(16);
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}

interface Agent {
  readonly username: string;
  readonly phone: string;
  readonly name: string;
  state: AgentState;
  loginAtMs: number;
  /** Device channel of the current session (e.g. PJSIP/2001), as queue_log records it. */
  channel: string;
}

/** A call waiting in the queue, already promised to the agent who will answer it. */
interface OfferedCall {
  readonly callid: string;
  readonly campaign: string;
  readonly caller: string;
  readonly enteredMs: number;
}

interface ActiveCall {
  readonly legId: number;
  readonly guid: string;
  readonly callid: string;
  readonly campaign: string;
  readonly holdSeconds: number;
  readonly startMs: number;
}

type AgentState =
  | { readonly kind: 'offline' }
  | { readonly kind: 'idle' }
  | { readonly kind: 'break'; readonly reason: string; readonly turnsLeft: number }
  | { readonly kind: 'offered'; readonly offer: OfferedCall }
  | { readonly kind: 'call'; readonly call: ActiveCall; readonly turnsLeft: number }
  | { readonly kind: 'wrapup'; readonly call: ActiveCall };

interface DispositionLeaf {
  readonly id: number;
  /** Ancestor ids from level 1 down, then the leaf itself. */
  readonly path: readonly number[];
}

/** UTC DATETIME(3) text; formatted here so the session time zone of the connection cannot shift it. */
function utcMillis(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
}

/** UTC DATETIME text at second precision (interactions columns have no fraction). */
function utcSeconds(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** 'José Pérez' -> 'jperez': first initial + surname, accents stripped, as contact centers do. */
function usernameFor(fullName: string): string {
  const ascii = fullName
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
  const [first = 'x', ...rest] = ascii.split(/\s+/);
  return (first.charAt(0) + rest.join('')).replace(/[^a-z0-9]/g, '');
}

/** One log line's worth of an error: driver code and message (mysql2 messages carry no password). */
function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

export class ContactCenterSimulator {
  private readonly pool: Pool;
  private readonly rng: Prng;
  private readonly tickMs: number;
  private readonly log: (line: string) => void;
  private readonly agents: Agent[];
  private readonly counts: Record<string, number> = {};
  /** Asterisk-style uniqueid prefix: run start in epoch seconds, so callids differ between runs. */
  private readonly callidPrefix: number;
  private callSeq = 0;
  private turn = 0;
  private leaves: DispositionLeaf[] = [];
  private seeded = false;
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(opts: SimulatorOptions) {
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.rng = new Prng(seed);
    this.tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.callidPrefix = Math.floor(Date.now() / MS_PER_SECOND);
    // dateStrings + explicit UTC text: no JS Date ever crosses the driver, so no zone conversion.
    this.pool = mysql.createPool({
      uri: opts.adminUrl,
      connectionLimit: POOL_CONNECTIONS,
      charset: 'utf8mb4',
      dateStrings: true,
    });
    const agentCount = Math.max(1, opts.agents ?? DEFAULT_AGENTS);
    this.agents = Array.from({ length: agentCount }, (_, i) => {
      const base = AGENT_NAMES[i % AGENT_NAMES.length] ?? 'Agent';
      // Past the name list, a round number keeps usernames and names unique.
      const round = Math.floor(i / AGENT_NAMES.length);
      return {
        username: usernameFor(base) + (round > 0 ? String(round + 1) : ''),
        phone: String(FIRST_EXTENSION + i),
        name: round > 0 ? `${base} ${round + 1}` : base,
        state: { kind: 'offline' },
        loginAtMs: 0,
        channel: '',
      };
    });
    this.log(`simulator: ${agentCount} agents, tick ${this.tickMs} ms, seed ${seed}`);
  }

  /** Rows written so far, by kind (queue_log event names, `interactions.*`, `users`, `dispositions`), plus `errors`. */
  get stats(): Record<string, number> {
    return { ...this.counts };
  }

  /**
   * Upserts the agents into ccdata.users and, when ccdata.dispositions is empty, inserts the
   * 3-level disposition tree. Idempotent: an existing tree is used as it is.
   */
  async seedDirectory(): Promise<void> {
    const inserted = await this.transaction(async (conn) => {
      for (const a of this.agents) {
        await conn.execute(
          `INSERT INTO ccdata.users (username, phone, name, email, profile) VALUES (?, ?, ?, ?, 'agent')
           ON DUPLICATE KEY UPDATE phone = VALUES(phone), name = VALUES(name), email = VALUES(email)`,
          [a.username, a.phone, a.name, `${a.username}@example.com`],
        );
      }
      const [existing] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM ccdata.dispositions');
      return Number(existing[0]?.n ?? 0) === 0 ? this.insertTree(conn, DISPOSITION_TREE, []) : 0;
    });
    // Counted after commit: a rolled-back seed wrote nothing.
    this.bump('users', this.agents.length);
    this.bump('dispositions', inserted);
    this.leaves = await this.loadLeaves();
    if (this.leaves.length === 0) throw new Error('ccdata.dispositions has no disposition valid as final');
    this.seeded = true;
  }

  /** Starts the step loop; a second call while running does nothing. */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.schedule();
  }

  /** Stops the loop, waits for the step in flight, then closes the pool. Safe to call twice. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private schedule(): void {
    // The next step is armed only after the previous one settled: steps never overlap.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inFlight = this.runStep().finally(() => {
        this.inFlight = undefined;
        if (this.running) this.schedule();
      });
    }, this.tickMs);
  }

  private async runStep(): Promise<void> {
    try {
      if (!this.seeded) await this.seedDirectory();
      const agent = this.agents[this.turn % this.agents.length];
      this.turn++;
      if (agent) await this.advance(agent);
    } catch (err) {
      this.bump('errors');
      this.log(`simulator: step failed: ${errorText(err)}`);
    }
  }

  private async advance(agent: Agent): Promise<void> {
    const s = agent.state;
    switch (s.kind) {
      case 'offline':
        if (this.rng.chance(P_LOGIN)) await this.login(agent);
        return;
      case 'break':
        if (s.turnsLeft > 1) agent.state = { ...s, turnsLeft: s.turnsLeft - 1 };
        else await this.endBreak(agent, s.reason);
        return;
      case 'call':
        if (s.turnsLeft > 1) agent.state = { ...s, turnsLeft: s.turnsLeft - 1 };
        else await this.hangUp(agent, s.call);
        return;
      case 'offered':
        await this.answer(agent, s.offer);
        return;
      case 'wrapup':
        await this.disposition(agent, s.call);
        return;
      case 'idle': {
        const r = this.rng.next();
        if (r < P_INBOUND_CALL) await this.callArrives(agent);
        else if (r < P_INBOUND_CALL + P_DIGITAL_INTERACTION) await this.digitalInteraction(agent);
        else if (r < P_INBOUND_CALL + P_DIGITAL_INTERACTION + P_BREAK) await this.startBreak(agent);
        else if (r < P_INBOUND_CALL + P_DIGITAL_INTERACTION + P_BREAK + P_LOGOFF) await this.logoff(agent);
        return;
      }
    }
  }

  private async login(agent: Agent): Promise<void> {
    const now = Date.now();
    const channel = `${this.rng.pick(CHANNEL_TECHS)}/${agent.phone}`;
    await this.queueLog({ timeMs: now, agent: agent.username, event: 'AGENTLOGIN', data1: channel });
    agent.loginAtMs = now;
    agent.channel = channel;
    agent.state = { kind: 'idle' };
  }

  private async logoff(agent: Agent): Promise<void> {
    const now = Date.now();
    const loggedSeconds = Math.round((now - agent.loginAtMs) / MS_PER_SECOND);
    await this.queueLog({
      timeMs: now,
      agent: agent.username,
      event: 'AGENTLOGOFF',
      data1: agent.channel,
      data2: String(loggedSeconds),
    });
    agent.state = { kind: 'offline' };
  }

  private async startBreak(agent: Agent): Promise<void> {
    const reason = this.rng.pick(BREAK_REASONS);
    const turns = this.rng.int(BREAK_TURNS_MIN, BREAK_TURNS_MAX);
    await this.queueLog({ timeMs: Date.now(), agent: agent.username, event: 'PAUSE', data1: reason });
    agent.state = { kind: 'break', reason, turnsLeft: turns };
  }

  private async endBreak(agent: Agent, reason: string): Promise<void> {
    await this.queueLog({ timeMs: Date.now(), agent: agent.username, event: 'UNPAUSE', data1: reason });
    agent.state = { kind: 'idle' };
  }

  /** A call enters the queue; `agent` will be offered it on its next turn. */
  private async callArrives(agent: Agent): Promise<void> {
    const now = Date.now();
    const offer: OfferedCall = {
      callid: `${this.callidPrefix}.${++this.callSeq}`,
      campaign: this.rng.pick(PHONE_CAMPAIGNS),
      caller: `5989${this.rng.digits(7)}`,
      enteredMs: now,
    };
    await this.queueLog({
      timeMs: now,
      callid: offer.callid,
      queuename: offer.campaign,
      event: 'ENTERQUEUE',
      data1: '',
      data2: offer.caller,
      data3: '1',
    });
    agent.state = { kind: 'offered', offer };
  }

  /**
   * The queued call first rang another idle agent who did not answer (sometimes), then `agent`
   * answers: those queue_log rows and the new telephony leg commit together. The ENTERQUEUE row
   * was committed earlier, as on a real PBX, so the caller number must be remembered across
   * transactions by whoever turns RINGNOANSWER into an event.
   */
  private async answer(agent: Agent, offer: OfferedCall): Promise<void> {
    const now = Date.now();
    const others = this.agents.filter((a) => a !== agent && a.state.kind === 'idle');
    const ringer = others.length > 0 && this.rng.chance(P_RING_NO_ANSWER) ? this.rng.pick(others) : undefined;
    const ringerChannel = ringer ? `${this.rng.pick(CHANNEL_TECHS)}/${ringer.phone}` : '';
    const waitedMs = Math.max(0, now - offer.enteredMs);
    const holdSeconds = Math.round(waitedMs / MS_PER_SECOND);
    const guid = this.rng.uuid();
    const customer = this.rng.pick(CUSTOMER_NAMES);
    const turns = this.rng.int(CALL_TURNS_MIN, CALL_TURNS_MAX);

    const legId = await this.transaction(async (conn) => {
      if (ringer) {
        await this.insertQueueLog(conn, {
          timeMs: now,
          callid: offer.callid,
          queuename: offer.campaign,
          agent: ringerChannel,
          event: 'RINGNOANSWER',
          data1: String(waitedMs),
        });
      }
      await this.insertQueueLog(conn, {
        timeMs: now,
        callid: offer.callid,
        queuename: offer.campaign,
        agent: agent.username,
        event: 'CONNECT',
        data1: String(holdSeconds),
        data2: offer.callid,
        data3: '0',
      });
      const [res] = await conn.execute<ResultSetHeader>(
        `INSERT INTO ccrepo.interactions (guid, start_date, campaign, channel, agent, data, contact, clientId, finished)
         VALUES (?, ?, ?, 'telephony', ?, ?, ?, ?, 0)`,
        [
          guid,
          utcSeconds(now),
          offer.campaign,
          agent.username,
          JSON.stringify({ callid: offer.callid, holdSeconds }),
          JSON.stringify({ name: customer, phone: offer.caller }),
          offer.caller,
        ],
      );
      return res.insertId;
    });
    if (ringer) this.bump('RINGNOANSWER');
    this.bump('CONNECT');
    this.bump('interactions.start');
    agent.state = {
      kind: 'call',
      call: { legId, guid, callid: offer.callid, campaign: offer.campaign, holdSeconds, startMs: now },
      turnsLeft: turns,
    };
  }

  /** The call ends: the leg is closed (finished 0 -> 1) together with the queue_log completion row. */
  private async hangUp(agent: Agent, call: ActiveCall): Promise<void> {
    const now = Date.now();
    const talkSeconds = Math.round((now - call.startMs) / MS_PER_SECOND);
    const completion = this.rng.chance(P_AGENT_HANGS_UP) ? 'COMPLETEAGENT' : 'COMPLETECALLER';
    await this.transaction(async (conn) => {
      await this.insertQueueLog(conn, {
        timeMs: now,
        callid: call.callid,
        queuename: call.campaign,
        agent: agent.username,
        event: completion,
        data1: String(call.holdSeconds),
        data2: String(talkSeconds),
        data3: '1',
      });
      await conn.execute('UPDATE ccrepo.interactions SET end_date = ?, finished = 1 WHERE id = ?', [
        utcSeconds(now),
        call.legId,
      ]);
    });
    this.bump(completion);
    this.bump('interactions.finish');
    agent.state = { kind: 'wrapup', call };
  }

  private async disposition(agent: Agent, call: ActiveCall): Promise<void> {
    const leaf = this.rng.pick(this.leaves);
    await this.pool.execute('UPDATE ccrepo.interactions SET disposition_id = ?, dispositionIds = ? WHERE id = ?', [
      leaf.id,
      leaf.path.join(','),
      call.legId,
    ]);
    this.bump('interactions.disposition');
    agent.state = { kind: 'idle' };
  }

  /** A webchat or WhatsApp conversation, written once when it is over (finished = 1 on insert). */
  private async digitalInteraction(agent: Agent): Promise<void> {
    const now = Date.now();
    const { channel, campaign } = this.rng.pick(DIGITAL_CHANNELS);
    const customer = this.rng.pick(CUSTOMER_NAMES);
    const clientId =
      channel === 'webchat'
        ? `${usernameFor(customer)}${this.rng.int(1, 99)}@example.com`
        : `+5989${this.rng.digits(7)}`;
    const startMs = now - this.rng.int(DIGITAL_DURATION_S_MIN, DIGITAL_DURATION_S_MAX) * MS_PER_SECOND;
    await this.pool.execute(
      `INSERT INTO ccrepo.interactions (guid, start_date, end_date, ` +
        `campaign, channel, agent, data, contact, clientId, finished)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
      [
        this.rng.uuid(),
        utcSeconds(startMs),
        utcSeconds(now),
        campaign,
        channel,
        agent.username,
        JSON.stringify({ messages: this.rng.int(2, 40) }),
        JSON.stringify({ name: customer }),
        clientId,
      ],
    );
    this.bump(`interactions.${channel}`);
  }

  private async queueLog(row: QueueLogRow): Promise<void> {
    await this.insertQueueLog(this.pool, row);
    this.bump(row.event);
  }

  private async insertQueueLog(db: Pool | PoolConnection, row: QueueLogRow): Promise<void> {
    await db.execute(
      `INSERT INTO ccrepo.queue_log_repo (time, callid, queuename, agent, event, data1, data2, data3)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        utcMillis(row.timeMs),
        row.callid ?? '',
        row.queuename ?? '',
        row.agent ?? '',
        row.event,
        row.data1 ?? null,
        row.data2 ?? null,
        row.data3 ?? null,
      ],
    );
  }

  /** Inserts `nodes` under `ancestors` (ids from level 1 down); returns how many rows it wrote. */
  private async insertTree(
    conn: PoolConnection,
    nodes: readonly DispositionNode[],
    ancestors: number[],
  ): Promise<number> {
    let written = 0;
    for (const node of nodes) {
      const isLeaf = !node.children || node.children.length === 0;
      const [res] = await conn.execute<ResultSetHeader>(
        'INSERT INTO ccdata.dispositions (parentId, value, campaign, ' +
          'channels, validAsFinal, parentIds) VALUES (?, ?, NULL, ?, ?, ?)',
        [
          ancestors.at(-1) ?? 0,
          node.value,
          'telephony',
          isLeaf ? 1 : 0,
          ancestors.length > 0 ? ancestors.join(',') : null,
        ],
      );
      written += 1;
      if (node.children) written += await this.insertTree(conn, node.children, [...ancestors, res.insertId]);
    }
    return written;
  }

  /** Final dispositions with their id path, walking parentId so any existing tree works. */
  private async loadLeaves(): Promise<DispositionLeaf[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      'SELECT id, parentId, validAsFinal FROM ccdata.dispositions ORDER BY id',
    );
    const parentOf = new Map<number, number>(rows.map((r) => [Number(r.id), Number(r.parentId)]));
    return rows
      .filter((r) => Number(r.validAsFinal) === 1)
      .map((r) => {
        const path = [Number(r.id)];
        // Bounded walk: a cycle in a foreign tree must not hang the simulator.
        for (
          let p = parentOf.get(Number(r.id)) ?? 0;
          p !== 0 && path.length < parentOf.size;
          p = parentOf.get(p) ?? 0
        ) {
          path.unshift(p);
        }
        return { id: Number(r.id), path };
      });
  }

  private async transaction<T>(work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const result = await work(conn);
      await conn.commit();
      return result;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  private bump(kind: string, by = 1): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + by;
  }
}

interface QueueLogRow {
  readonly timeMs: number;
  readonly callid?: string;
  readonly queuename?: string;
  readonly agent?: string;
  readonly event: string;
  readonly data1?: string;
  readonly data2?: string;
  readonly data3?: string;
}
