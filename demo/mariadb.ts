// Starts a throwaway MariaDB with ROW/FULL binlog for tests and the demo: its own temp data dir,
// socket and free port, an all-privileges `admin` user and a least-privilege `ucw_bridge` user.
// Invariant: every server this module starts is stopped by stop() or, if the process exits first,
// SIGKILLed by an 'exit' hook; it never touches a system server, a systemd unit or /etc/mysql.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, rmSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';

export const MARIADB_MISSING_HINT =
  'Install the MariaDB server binaries: `apt-get install -y mariadb-server` (Debian/Ubuntu, as root). ' +
  'No MariaDB service needs to run: tests and the demo start their own private mariadbd on a free port ' +
  'with a temporary data dir, and never use the system server on 3306.';

export interface MariaDbOptions {
  /** Parent directory for the fresh mkdtemp dir; default os.tmpdir(). */
  baseDir?: string;
  serverId?: number;
  /** Appended to the mariadbd command line (after ours, so they win). */
  extraArgs?: string[];
  log?: (msg: string) => void;
}

export interface PrivateMariaDb {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly socket: string;
  readonly dataDir: string;
  readonly pid: number;
  /** mysql://admin:<pw>@127.0.0.1:<port>/ : all privileges, for setup and traffic. */
  readonly adminUrl: string;
  /** mysql://ucw_bridge:<pw>@127.0.0.1:<port>/ : REPLICATION SLAVE, BINLOG MONITOR, SELECT on ccdata.* and ccrepo.*. */
  readonly bridgeUrl: string;
  // Function-typed properties, not methods: they use no `this`, so `after(db.stop)` is safe.
  /** Runs multi-statement SQL as admin on a fresh connection. */
  readonly exec: (sql: string) => Promise<void>;
  /** SIGTERM, wait for exit (SIGKILL after 10 s), remove the temp dir. Idempotent. */
  readonly stop: () => Promise<void>;
  /** Stops the process keeping the data dir, then starts it again on the same port and socket. */
  readonly restart?: () => Promise<void>;
}

const STOP_GRACE_MS = 10_000;
/** mariadb-install-db takes a few seconds here; a minute means it hangs. */
const INSTALL_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 30_000;
const READY_POLL_INTERVAL_MS = 40;
const MAX_PORT_RETRIES = 3;
// sockaddr_un.sun_path is 108 bytes including the NUL; keep a margin.
const MAX_SOCKET_PATH_BYTES = 100;
const LOG_TAIL_LINES = 25;
const SEARCH_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin'];

// Small redo log and buffer pool: the data dir is ~40 MB instead of ~130 MB and starts faster.
const SIZE_ARGS = ['--innodb-log-file-size=8M', '--innodb-buffer-pool-size=32M'];

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function findExecutable(names: readonly string[], dirs: readonly string[]): string | undefined {
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Looks in PATH, then /usr/sbin, /usr/local/sbin and /usr/bin (sbin is often not in PATH). */
export function findMariaDbBinaries(): { mariadbd: string; installDb: string } | undefined {
  const pathDirs = (process.env['PATH'] ?? '').split(path.delimiter).filter((d) => d !== '');
  const dirs = [...new Set([...pathDirs, ...SEARCH_DIRS])];
  const mariadbd = findExecutable(['mariadbd'], dirs);
  const installDb = findExecutable(['mariadb-install-db'], dirs);
  return mariadbd && installDb ? { mariadbd, installDb } : undefined;
}

// Servers still running, so the 'exit' hook can kill them if stop() is never reached.
interface LiveServer {
  child: ChildProcess;
  dirs: string[];
}
const liveServers = new Set<LiveServer>();

function killLiveServersOnExit(): void {
  for (const server of liveServers) {
    try {
      server.child.kill('SIGKILL');
    } catch {
      // already gone
    }
    for (const dir of server.dirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: the process is exiting anyway
      }
    }
  }
}

function trackLive(server: LiveServer): void {
  if (liveServers.size === 0) process.on('exit', killLiveServersOnExit);
  liveServers.add(server);
}

function untrackLive(server: LiveServer): void {
  liveServers.delete(server);
  if (liveServers.size === 0) process.off('exit', killLiveServersOnExit);
}

async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => (port === undefined ? reject(new Error('no port assigned')) : resolve(port)));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function fileTail(file: string, lines = LOG_TAIL_LINES): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log file)';
  }
}

function bootstrapSql(adminPassword: string, bridgePassword: string): string {
  // Bootstrap runs with grant tables off; FLUSH PRIVILEGES loads them so CREATE USER/GRANT work.
  // mysql_native_password because mysql2 cannot do MariaDB's ed25519/PARSEC/unix_socket plugins.
  return `FLUSH PRIVILEGES;
CREATE USER 'admin'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${adminPassword}');
GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION;
CREATE USER 'ucw_bridge'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${bridgePassword}');
GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'ucw_bridge'@'%';
GRANT SELECT ON ccdata.* TO 'ucw_bridge'@'%';
GRANT SELECT ON ccrepo.* TO 'ucw_bridge'@'%';
`;
}

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a tool to its end; one still running after `timeoutMs` is SIGKILLed and fails with its output. */
async function runToCompletion(command: string, args: string[], timeoutMs = INSTALL_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not finish within ${timeoutMs} ms (killed); output:\n${output.slice(-2_000)}`));
    }, timeoutMs);
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

type ExitInfo = { code: number | null; signal: NodeJS.Signals | null };

interface Running {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
  exitInfo: () => ExitInfo | undefined;
  stderrTail: () => string;
}

function spawnServer(mariadbd: string, args: string[]): Running {
  const child = spawn(mariadbd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let info: ExitInfo | undefined;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4_000);
  });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once('error', () => {
      info ??= { code: null, signal: null };
      resolve(info);
    });
  });
  // A forgotten stop() must not keep the test process alive; the 'exit' hook kills the server.
  child.unref();
  (child.stderr as net.Socket | null)?.unref();
  return { child, exited, exitInfo: () => info, stderrTail: () => stderr.trim() };
}

async function terminate(running: Running): Promise<void> {
  if (running.exitInfo() !== undefined) return;
  running.child.ref();
  running.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    running.exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), STOP_GRACE_MS);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    running.child.kill('SIGKILL');
    // Even SIGKILL can wait on a process stuck in the kernel: bounded, so stop() never hangs.
    const gone = await Promise.race([
      running.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_GRACE_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!gone) throw new Error(`mariadbd pid ${running.child.pid} did not exit after SIGKILL; ${running.stderrTail()}`);
  }
}

/** Starts a private MariaDB with binlog ROW/FULL/FULL; resolves when it accepts the admin user. */
export async function startPrivateMariaDb(opts: MariaDbOptions = {}): Promise<PrivateMariaDb> {
  const log = opts.log ?? ((): void => undefined);
  const binaries = findMariaDbBinaries();
  if (!binaries) {
    throw new Error(
      `MariaDB server binaries not found (looked for mariadbd and mariadb-install-db in PATH, ` +
        `${SEARCH_DIRS.join(', ')}). ${MARIADB_MISSING_HINT}`,
    );
  }
  const startedAt = performance.now();
  const rootDir = await mkdtemp(path.join(opts.baseDir ?? os.tmpdir(), 'ucw-mariadb-'));
  const dirs = [rootDir];
  const dataDir = path.join(rootDir, 'data');
  const errorLog = path.join(rootDir, 'mariadbd.err');
  const pidFile = path.join(rootDir, 'mariadbd.pid');
  // Own tmpdir: parallel servers sharing /tmp collide on internal temporary table names
  // (seen as "Unknown table 'mysql.tmp_user_sys'" when several bootstraps run at once).
  const tmpDir = path.join(rootDir, 'tmp');
  let socket = path.join(rootDir, 'mariadbd.sock');
  const adminPassword = randomBytes(12).toString('hex');
  const bridgePassword = randomBytes(12).toString('hex');
  const userArgs = process.getuid?.() === 0 ? ['--user=root'] : [];

  let running: Running | undefined;
  let live: LiveServer | undefined;
  let port = 0;

  const cleanup = async (): Promise<void> => {
    if (running) await terminate(running);
    if (live) untrackLive(live);
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  };

  const serverArgs = (): string[] => [
    '--no-defaults',
    ...userArgs,
    `--datadir=${dataDir}`,
    `--socket=${socket}`,
    `--pid-file=${pidFile}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--skip-name-resolve',
    `--server-id=${opts.serverId ?? 1}`,
    `--log-bin=${path.join(dataDir, 'binlog')}`,
    '--binlog-format=ROW',
    '--binlog-row-image=FULL',
    '--binlog-row-metadata=FULL',
    `--log-error=${errorLog}`,
    `--tmpdir=${tmpDir}`,
    '--character-set-server=utf8mb4',
    '--collation-server=utf8mb4_general_ci',
    '--max-connections=200',
    ...SIZE_ARGS,
    ...(opts.extraArgs ?? []),
  ];

  // Resolves 'collision' when the port was taken between probing and binding.
  const launch = async (): Promise<'ready' | 'collision'> => {
    const logOffset = await readFile(errorLog, 'utf8').then(
      (t) => t.length,
      () => 0,
    );
    running = spawnServer(binaries.mariadbd, serverArgs());
    if (live) untrackLive(live);
    live = { child: running.child, dirs };
    trackLive(live);
    const attempt = running;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const exit = attempt.exitInfo();
      if (exit) {
        const fullLog = await readFile(errorLog, 'utf8').catch(() => '');
        const newLog = fullLog.slice(logOffset);
        if (/Address already in use|EADDRINUSE|error: 98\b/.test(newLog)) return 'collision';
        const tail = newLog.trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
        throw new Error(
          `mariadbd exited during startup (code ${exit.code}, signal ${exit.signal}); ` +
            `tail of ${errorLog}:\n${tail || attempt.stderrTail() || '(empty)'}`,
        );
      }
      if (await isOurServerReady()) return 'ready';
      if (Date.now() > deadline) {
        throw new Error(
          `mariadbd did not accept connections within ${START_TIMEOUT_MS} ms; tail of ${errorLog}:\n` +
            (await fileTail(errorLog)),
        );
      }
      await sleep(READY_POLL_INTERVAL_MS);
    }
  };

  // Another server that grabbed the port would refuse our random password, and @@socket proves
  // the answer comes from our process.
  const isOurServerReady = async (): Promise<boolean> => {
    let conn: mysql.Connection | undefined;
    try {
      conn = await mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: 'admin',
        password: adminPassword,
        connectTimeout: 2_000,
      });
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT @@socket AS socket');
      return rows[0]?.['socket'] === socket;
    } catch {
      return false;
    } finally {
      await conn?.end().catch(() => undefined);
    }
  };

  try {
    if (Buffer.byteLength(socket) > MAX_SOCKET_PATH_BYTES) {
      const socketDir = await mkdtemp('/tmp/ucw-sock-');
      dirs.push(socketDir);
      socket = path.join(socketDir, 's.sock');
    }

    await mkdir(tmpDir);
    const bootstrapFile = path.join(rootDir, 'bootstrap.sql');
    await writeFile(bootstrapFile, bootstrapSql(adminPassword, bridgePassword), { mode: 0o600 });
    log(`mariadb: initialising ${dataDir}`);
    const install = await runToCompletion(binaries.installDb, [
      '--no-defaults',
      `--datadir=${dataDir}`,
      ...userArgs,
      '--auth-root-authentication-method=socket',
      '--skip-test-db',
      '--skip-name-resolve',
      `--extra-file=${bootstrapFile}`,
      `--tmpdir=${tmpDir}`,
      ...SIZE_ARGS,
    ]);
    await rm(bootstrapFile, { force: true });
    if (install.code !== 0) {
      // The cause is in the first lines; the rest is generic advice about my.cnf files.
      const head = install.output.trim().split('\n').slice(0, LOG_TAIL_LINES).join('\n');
      throw new Error(`mariadb-install-db failed (exit ${install.code}):\n${head}`);
    }

    let attempt = 0;
    for (;;) {
      port = await findFreePort();
      const outcome = await launch();
      if (outcome === 'ready') break;
      attempt += 1;
      log(`mariadb: port ${port} was taken before mariadbd bound it (attempt ${attempt})`);
      if (attempt > MAX_PORT_RETRIES) {
        throw new Error(`mariadbd could not bind a free port after ${attempt} attempts; see ${errorLog}`);
      }
    }
    const startupMs = Math.round(performance.now() - startedAt);
    log(`mariadb: ready on 127.0.0.1:${port} (pid ${running?.child.pid ?? '?'}) in ${startupMs} ms`);
  } catch (err) {
    await cleanup();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const current = (): Running => {
    if (!running || stopping) throw new Error('private MariaDB is stopped');
    return running;
  };

  const db: PrivateMariaDb = {
    host: '127.0.0.1',
    port,
    socket,
    dataDir,
    get pid(): number {
      return running?.child.pid ?? -1;
    },
    adminUrl: `mysql://admin:${adminPassword}@127.0.0.1:${port}/`,
    bridgeUrl: `mysql://ucw_bridge:${bridgePassword}@127.0.0.1:${port}/`,

    exec: async (sql: string): Promise<void> => {
      current();
      const conn = await mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: 'admin',
        password: adminPassword,
        multipleStatements: true,
        charset: 'utf8mb4',
      });
      try {
        await conn.query(sql);
      } finally {
        await conn.end();
      }
    },

    stop: (): Promise<void> => {
      stopping ??= cleanup().then(() => log(`mariadb: stopped and removed ${rootDir}`));
      return stopping;
    },

    restart: async (): Promise<void> => {
      await terminate(current());
      const t0 = performance.now();
      if ((await launch()) === 'collision') {
        throw new Error(`mariadbd could not rebind port ${port} on restart: it is now used by another process`);
      }
      log(`mariadb: restarted on port ${port} in ${Math.round(performance.now() - t0)} ms`);
    },
  };
  return db;
}
