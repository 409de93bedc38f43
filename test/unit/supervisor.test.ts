// SourceSupervisor with a fake source and fake listeners on mock timers: a retryable failure (or a
// silent stream) reconnects from prepare() after an exponential backoff, a fatal one (bad binlog
// settings, a non-retryable stream error) is reported once through onFatal and the supervisor stops.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { BridgeError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/observe/metrics.js';
import type { ListenerOptions } from '../../src/source/binlog-listener.js';
import { parseMysqlUrl } from '../../src/source/connection.js';
import type { PreflightDb } from '../../src/source/preflight.js';
import type { ServerSettings } from '../../src/source/source-db.js';
import { SourceSupervisor, type SourceListener } from '../../src/source/supervisor.js';
import { MARIADB_10_11 } from '../helpers/server-settings.js';

const CONN = parseMysqlUrl('mysql://u:p@db.example:3306/');
const FROM = { file: 'bin.000001', pos: 4 };
const HEARTBEAT_S = 10;

/** A listener the test drives: it says 'ready' or fails when told. */
class FakeListener extends EventEmitter implements SourceListener {
  lastEventAtMs = Date.now();
  backpressured = false;
  busy = false;
  started = false;
  stopped = false;
  constructor(readonly opts: ListenerOptions) {
    super();
  }
  start(): void {
    this.started = true;
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

/** A dropped connection: the kind of failure a reconnect fixes. */
const connectionLost = (): BridgeError =>
  new BridgeError('UCW_ERR_SOURCE_STREAM', 'Connection lost: The server closed the connection.', {
    retryable: true,
    cause: Object.assign(new Error('closed'), { code: 'PROTOCOL_CONNECTION_LOST' }),
  });

/** Lets the supervisor's promise chains run (setImmediate is not mocked). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

function supervise(settings: () => ServerSettings = () => MARIADB_10_11) {
  const listeners: FakeListener[] = [];
  const fatal: BridgeError[] = [];
  const logs: Array<Record<string, unknown>> = [];
  let prepared = 0;
  const db: PreflightDb = {
    conn: CONN,
    settings: () => Promise.resolve(settings()),
    grants: () => Promise.resolve([]),
    roleGrants: () => Promise.resolve([]),
  };
  const metrics = new Metrics();
  const sup = new SourceSupervisor({
    conn: CONN,
    db,
    serverId: 1001,
    tables: ['ccrepo.queue_log_repo'],
    heartbeatSeconds: HEARTBEAT_S,
    maxQueuedRows: 1_000,
    reconnectMinMs: 100,
    reconnectMaxMs: 350,
    prepare: () => {
      prepared++;
      return Promise.resolve(FROM);
    },
    handler: () => Promise.resolve(),
    onFatal: (err) => fatal.push(err),
    logger: createLogger('info', {
      write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>),
    }),
    metrics,
    createListener: (opts) => {
      const l = new FakeListener(opts);
      listeners.push(l);
      return l;
    },
  });
  return { sup, listeners, fatal, logs, metrics, prepared: () => prepared };
}

const reconnects = (logs: Array<Record<string, unknown>>): Array<[unknown, unknown, unknown]> =>
  logs.filter((l) => l.msg === 'source unavailable; reconnecting').map((l) => [l.code, l.retryInMs, l.failures]);

void describe('SourceSupervisor (fake listener, mock timers)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_772_460_000_000 }));
  afterEach(() => mock.timers.reset());

  void it('a dropped stream reconnects after 100, 200, 350 (max) ms, each time from prepare()', async () => {
    const s = supervise();
    s.sup.start();
    await settle();
    assert.equal(s.listeners.length, 1);
    assert.deepEqual(s.listeners[0]!.opts.from, FROM);
    assert.equal(s.listeners[0]!.started, true);

    for (const [i, delay] of [100, 200, 350].entries()) {
      s.listeners[i]!.emit('error', connectionLost());
      await settle();
      assert.equal(s.listeners[i]!.stopped, true);
      assert.equal(s.sup.connected, false);
      mock.timers.tick(delay - 1);
      await settle();
      assert.equal(s.listeners.length, i + 1, `no new attempt before ${delay} ms`);
      mock.timers.tick(1);
      await settle();
      assert.equal(s.listeners.length, i + 2, `a new attempt at ${delay} ms`);
    }
    assert.equal(s.prepared(), 4);
    assert.deepEqual(reconnects(s.logs), [
      ['UCW_ERR_SOURCE_STREAM', 100, 1],
      ['UCW_ERR_SOURCE_STREAM', 200, 2],
      ['UCW_ERR_SOURCE_STREAM', 350, 3],
    ]);
    assert.equal(s.sup.lastError, 'UCW_ERR_SOURCE_STREAM: Connection lost: The server closed the connection.');

    s.listeners[3]!.emit('ready');
    assert.equal(s.sup.connected, true);
    assert.equal(s.sup.lastError, undefined);
    assert.equal((await s.metrics.sourceReconnects.get()).values[0]!.value, 3);
    assert.equal(s.fatal.length, 0);
    await s.sup.stop();
  });

  void it('a silent stream (no event or heartbeat for 3 periods) is ended and reconnected', async () => {
    const s = supervise();
    s.sup.start();
    await settle();
    s.listeners[0]!.emit('ready');
    // The watchdog looks every half period; silence counts after more than 3 periods.
    mock.timers.tick(3 * HEARTBEAT_S * 1000);
    await settle();
    assert.equal(s.listeners[0]!.stopped, false);
    mock.timers.tick(HEARTBEAT_S * 500);
    await settle();
    assert.equal(s.listeners[0]!.stopped, true);
    assert.deepEqual(reconnects(s.logs), [['UCW_ERR_SOURCE_STREAM', 100, 1]]);
    mock.timers.tick(100);
    await settle();
    assert.equal(s.listeners.length, 2);
    await s.sup.stop();
  });

  void it('a non-retryable stream error is reported once through onFatal and nothing is retried', async () => {
    const s = supervise();
    s.sup.start();
    await settle();
    s.listeners[0]!.emit('ready');
    const purged = new BridgeError(
      'UCW_ERR_SOURCE_BINLOG_GONE',
      'the binlog file bin.000001 of the checkpoint is gone',
    );
    s.listeners[0]!.emit('error', purged);
    await settle();
    assert.deepEqual(s.fatal, [purged]);
    assert.equal(s.sup.connected, false);
    assert.equal(s.sup.lastError, 'UCW_ERR_SOURCE_BINLOG_GONE: the binlog file bin.000001 of the checkpoint is gone');
    assert.deepEqual(
      s.logs.filter((l) => l.level === 'fatal').map((l) => [l.code, l.msg]),
      [['UCW_ERR_SOURCE_BINLOG_GONE', 'source failed; not retrying']],
    );
    mock.timers.tick(60_000);
    await settle();
    assert.equal(s.listeners.length, 1);
    assert.deepEqual(reconnects(s.logs), []);
    await s.sup.stop();
  });

  void it('wrong binlog settings found on a reconnect are fatal: no listener is made for it', async () => {
    let settings = MARIADB_10_11;
    const s = supervise(() => settings);
    s.sup.start();
    await settle();
    s.listeners[0]!.emit('error', connectionLost());
    await settle();
    // The server came back with statement-based binlog: the reconnect's preflight refuses it.
    settings = { ...MARIADB_10_11, binlogFormat: 'STATEMENT' };
    mock.timers.tick(100);
    await settle();
    assert.equal(s.listeners.length, 1);
    assert.equal(s.prepared(), 1);
    assert.deepEqual(
      s.fatal.map((e) => e.code),
      ['UCW_ERR_SOURCE_BINLOG_FORMAT'],
    );
    await s.sup.stop();
  });

  void it('stop() during the backoff wait ends the supervisor without another attempt', async () => {
    const s = supervise();
    s.sup.start();
    await settle();
    s.listeners[0]!.emit('error', connectionLost());
    await settle();
    await s.sup.stop();
    mock.timers.tick(1_000);
    await settle();
    assert.equal(s.listeners.length, 1);
    assert.equal(s.fatal.length, 0);
  });
});
