// Composition root: builds every part from a validated Config, wires binlog -> rules -> outbox ->
// delivery, and owns start/stop. Nothing else constructs long-lived resources, and stop() releases
// everything it started, in reverse order, even after a partial start.

import { createRequire } from 'node:module';
import type { Config } from './config/config.js';
import type { BinlogPosition } from './domain/row-change.js';
import { formatPosition } from './domain/row-change.js';
import { DeliveryScheduler } from './delivery/scheduler.js';
import { FlowWindow } from './delivery/flow-window.js';
import { IdleTrim } from './observe/idle-trim.js';
import { QUEUED_PER_CONNECTION, WorkerClient } from './delivery/worker/client.js';
import type { BodyFormat } from './delivery/types.js';
import { urlDefaultsOf, urlSettingsResolver } from './delivery/url-settings.js';
import { BridgeError } from './errors.js';
import type { Logger } from './logger.js';
import { startHealthServer } from './observe/http-server.js';
import type { AdminRoute } from './observe/admin-api.js';
import { generateAdminToken, removeAdminFiles, writeAdminFiles } from './ops/admin-endpoint.js';
import { deliveryRoutes } from './ops/deliveries-routes.js';
import { replayRoutes } from './ops/replay-route.js';
import { Metrics } from './observe/metrics.js';
import { SourceLagSampler } from './ops/source-lag-sampler.js';
import { statusRoutes } from './ops/status-routes.js';
import { StateStore } from './outbox/state-store.js';
import { Pruner } from './outbox/pruner.js';
import { mirrorTablesOf, TransactionProcessor } from './pipeline/processor.js';
import { StartPosition } from './pipeline/start-position.js';
import { Registry } from './registry/registry.js';
import { RulesEngine } from './rules/engine.js';
import { defaultRules, loadRulesFile } from './rules/load.js';
import { columnsUsed } from './rules/columns.js';
import { checkRulesAgainstSchema } from './rules/schema-check.js';
import type { RulesFile } from './rules/schema.js';
import { parseMysqlUrl } from './source/connection.js';
import { SourceDb, type ServerSettings } from './source/source-db.js';
import { replicaServerId } from './source/server-id.js';
import { SourceSupervisor } from './source/supervisor.js';

const PRUNE_INTERVAL_MS = 10 * 60_000;
/** The first pass soon after start-up: a bridge restarted more often than the interval still prunes. */
const PRUNE_FIRST_PASS_MS = 5_000;

export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export interface RunningBridge {
  /** HTTP port of /healthz, /readyz, /metrics. */
  readonly httpPort: number;
  /** Resolves when the bridge stops on its own (fatal error); rejects with that error. */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export async function startBridge(config: Config, logger: Logger): Promise<RunningBridge> {
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err }, 'error while stopping');
      }
    }
    cleanups.length = 0;
  };

  try {
    const rules: RulesFile = config.rules ? loadRulesFile(config.rules) : defaultRules();
    const conn = parseMysqlUrl(config.mysqlUrl);
    const registryLog = logger.child({ component: 'registry' });

    const outbox = new StateStore({
      stateDir: config.stateDir,
      synchronous: config.outboxSync,
      logger: logger.child({ component: 'outbox' }),
      incrementalVacuum: true,
    });
    cleanups.push(() => outbox.close());

    const metrics = new Metrics();
    metrics.outboxMaxBytes.set(config.maxOutboxBytes);
    const db = new SourceDb(conn);
    cleanups.push(() => db.close());

    let registryLoaded = false;

    // HTTP runs on its own thread (a second core); the binlog, the rules and the outbox stay here.
    const sender = new WorkerClient({
      connectTimeoutMs: config.connectTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      maxResponseBytes: config.maxResponseBytes,
      connectionsPerUrl: config.concurrencyPerUrl,
      concurrencyTotal: config.concurrencyTotal,
      userAgent: `ucontact-webhooks/${VERSION}`,
      ceSource: config.ceSource,
      signingSecrets: config.signingSecret,
      receivers: config.receivers,
      blockPrivateNetworks: config.blockPrivateNetworks,
      caFile: config.caFile,
    });
    cleanups.push(() => sender.close());

    // Each URL's receivers entry over the global options, resolved once per URL.
    const settingsFor = urlSettingsResolver(config.receivers, urlDefaultsOf(config));
    const bodyFormatFor = (url: string): BodyFormat => settingsFor(url).bodyFormat;
    const pruner = new Pruner({
      outbox,
      retentionMs: config.deliveredRetentionHours * 3_600_000,
      intervalMs: PRUNE_INTERVAL_MS,
      firstPassMs: PRUNE_FIRST_PASS_MS,
      deadCap: {
        max: config.maxDeadRows,
        store: outbox.deliveries,
        onPruned: ({ dead, cancelled }) => {
          metrics.deadRowsPruned.inc({ state: 'dead' }, dead);
          metrics.deadRowsPruned.inc({ state: 'cancelled' }, cancelled);
          metrics.outboxDead.dec(dead);
        },
      },
      now: Date.now,
      logger: logger.child({ component: 'outbox' }),
    });
    const sourceLog = logger.child({ component: 'source' });
    // The one gate on reading: buffered deliveries, --max-outbox-pending and --max-outbox-bytes.
    const flowWindow = new FlowWindow({
      store: outbox,
      maxBufferedBytes: config.maxBufferedBytes,
      maxPending: config.maxOutboxPending,
      maxBytes: config.maxOutboxBytes,
      usedBytes: () => outbox.usedBytes(),
      reclaim: (stillFull) => pruner.reclaim(stillFull),
      metrics,
      logger: sourceLog,
    });
    const scheduler = new DeliveryScheduler({
      outbox,
      sender,
      window: flowWindow,
      policy: {
        maxAttempts: config.maxAttempts,
        maxAgeMs: config.maxAgeMs,
        baseDelayMs: config.retryBaseMs,
        maxDelayMs: config.retryMaxMs,
        maxRetryAfterMs: config.maxRetryAfterMs,
      },
      concurrencyPerUrl: config.concurrencyPerUrl,
      queuedPerUrl: config.concurrencyPerUrl * QUEUED_PER_CONNECTION,
      bodyFormatFor,
      endpointSettingsFor: settingsFor,
      metrics,
      logger: logger.child({ component: 'delivery' }),
      gonePauseMs: config.gonePauseMs,
    });
    scheduler.start();
    cleanups.push(() => scheduler.stop(config.shutdownGraceMs));

    /** The rules' state and the stages that read it, built from the rules as the live schema spells them. */
    const buildPipeline = (resolved: RulesFile) => {
      const engine = new RulesEngine(resolved, config.timezone);
      const registry = new Registry(resolved.registry, (p) =>
        registryLog.error(
          { code: p.code, rowId: p.rowId, table: resolved.registry.table },
          `webhooks row skipped: ${p.reason}`,
        ),
      );
      const mirrorTables = mirrorTablesOf(engine, registry);
      const processor = new TransactionProcessor({
        engine,
        registry,
        mirrorTables,
        outbox,
        db,
        metrics,
        logger: logger.child({ component: 'pipeline' }),
        onEnqueued: (created, staged) => scheduler.enqueue(created, staged),
        onUnregistered: (removed) => scheduler.cancelRegistrations(removed),
      });
      const startPosition = new StartPosition({
        db,
        outbox,
        engine,
        registry,
        mirrorTables,
        resetToNow: config.resetToNow,
        logger: sourceLog,
      });
      return { engine, registry, mirrorTables, processor, startPosition };
    };
    // Built once, on the first connect: column names are resolved against the live schema (MySQL
    // matches them case-insensitively), so rows are then read by their real names with no folding.
    let pipeline: ReturnType<typeof buildPipeline> | undefined;
    // Per-URL metrics: registered URLs and those with deliveries pending, read at each scrape.
    metrics.trackUrls({
      registered: () => pipeline?.registry.urls() ?? [],
      oldestPending: () => scheduler.oldestPending(),
    });
    const prepare = async (settings: ServerSettings): Promise<BinlogPosition> => {
      pipeline ??= buildPipeline(await checkRulesAgainstSchema(rules, (tables) => db.columnsOf(tables)));
      const { engine, registry, processor, startPosition } = pipeline;
      processor.abandonOpenTransaction();
      const from = await startPosition.prepare(settings);
      registryLoaded = true;
      metrics.registryUrls.set(registry.size);
      sourceLog.info(
        {
          position: formatPosition(from),
          registrations: registry.size,
          directories: Object.fromEntries([...engine.directories].map(([n, d]) => [n, d.size])),
        },
        'state loaded; streaming from checkpoint',
      );
      return from;
    };

    let fail: (err: BridgeError) => void = () => undefined;
    const done = new Promise<void>((_resolve, reject) => (fail = reject));
    done.catch(() => undefined);
    const supervisor = new SourceSupervisor({
      conn,
      db,
      serverId: replicaServerId(config.serverId, outbox, sourceLog),
      tables: [...columnsUsed(rules).keys()],
      heartbeatSeconds: config.heartbeatSeconds,
      maxQueuedRows: config.maxQueuedRows,
      reconnectMinMs: config.reconnectMinMs,
      reconnectMaxMs: config.reconnectMaxMs,
      prepare,
      // Transactions arrive only after prepare() has built the pipeline.
      handler: async (tx) => {
        await flowWindow.roomFor(pipeline!.registry.urls());
        await pipeline!.processor.process(tx);
      },
      onFatal: (err) => fail(err),
      onTableDrift: (table) =>
        pipeline!.mirrorTables.some((m) => m.table === table)
          ? undefined
          : pipeline!.engine.stopRulesOn(table, `rows of ${table} cannot be decoded`),
      logger: sourceLog,
      metrics,
    });
    // The CLI on this machine reads this token from the state dir; operators may add --admin-token.
    const localToken = generateAdminToken();
    const adminRoutes: AdminRoute[] = [];
    const lagSampler = new SourceLagSampler({
      db,
      checkpoint: () => outbox.storedCheckpoint(),
      metrics,
      logger: sourceLog,
    });
    adminRoutes.push(
      ...statusRoutes({
        version: VERSION,
        outbox,
        urlStates: () => scheduler.urlStates(),
        registeredUrls: () => pipeline?.registry.urls() ?? [],
        source: supervisor,
        server: () => lagSampler.fields(),
      }),
    );
    adminRoutes.push(...deliveryRoutes({ scheduler, outbox, metrics, logger: logger.child({ component: 'admin' }) }));
    adminRoutes.push(
      ...replayRoutes({
        outbox,
        enqueue: (created) => scheduler.enqueue(created),
        registeredUrlsFor: (event) => pipeline?.registry.urlsFor(event) ?? [],
      }),
    );
    const health = await startHealthServer({
      host: config.httpHost,
      port: config.httpPort,
      metrics,
      logger,
      routes: adminRoutes,
      adminTokens: [localToken, ...(config.adminToken ? [config.adminToken] : [])],
      readiness: () => {
        const reasons: string[] = [];
        if (!supervisor.connected) reasons.push(`binlog stream not open (${supervisor.lastError ?? 'starting'})`);
        if (!registryLoaded) reasons.push('webhook registry not loaded');
        return { ready: reasons.length === 0, reasons };
      },
    });
    cleanups.push(() => health.close());
    writeAdminFiles(config.stateDir, { host: config.httpHost, port: health.port, pid: process.pid }, localToken);
    cleanups.push(() => removeAdminFiles(config.stateDir));
    supervisor.start();
    cleanups.push(() => supervisor.stop());
    // Runs before supervisor.stop() (reverse order): a handler waiting for room must not hold up the stop.
    cleanups.push(() => flowWindow.release());

    pruner.start();
    cleanups.push(() => pruner.stop());
    lagSampler.start();
    cleanups.push(() => lagSampler.stop());
    // After a burst, give back what the idle bridge no longer needs (heap pages, SQLite's cache).
    const idleTrim = new IdleTrim({ release: () => outbox.releaseMemory() });
    idleTrim.start();
    cleanups.push(() => idleTrim.stop());

    logger.info(
      {
        version: VERSION,
        source: conn.display,
        stateDir: config.stateDir,
        httpPort: health.port,
        rules: config.rules ?? 'default',
        timezone: config.timezone,
        // Entry names only: their URLs may carry tokens, their secrets and headers are never logged.
        receivers: config.receivers.map((r) => r.label),
      },
      'bridge started',
    );
    return { httpPort: health.port, done, stop: cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
