import { Connection } from '@temporalio/client';
import fs from 'node:fs';
import path from 'node:path';
import { ManagedChild } from './managed-child';
import type { OrphanReaper } from './orphan-reaper';
import { REPO_DIR } from './paths';
import { LOOPBACK, acceptsConnections } from './ports';
import { answersHttp, waitUntilReady } from './wait-ready';

/** Temporal registers these at start so runs are searchable by trigger and event in its UI. */
export const TEMPORAL_SEARCH_ATTRIBUTES = ['CreditflowTriggerId=Keyword', 'CreditflowEventId=Keyword'] as const;

/** Startup bounds: each service is usually ready in well under a second or two. */
const FERRETDB_READY_TIMEOUT_MS = 30_000;
const TEMPORAL_READY_TIMEOUT_MS = 60_000;
const MAILDEV_READY_TIMEOUT_MS = 30_000;
const PROBE_TIMEOUT_MS = 1_000;
/** How long a service gets to shut down after SIGTERM before SIGKILL. */
export const SERVICE_STOP_GRACE_MS = 10_000;

/** What every service start needs besides its own options. */
export interface Supervision {
  /** Echo the service's output with a name prefix (dev); tests keep only the tail. */
  readonly echo: boolean;
  readonly reaper?: OrphanReaper;
}

export interface FerretDbOptions extends Supervision {
  readonly binary: string;
  readonly port: number;
  /** Holds the SQLite database files (one per MongoDB database) and FerretDB's state file. */
  readonly dataDir: string;
}

/** Where FerretDB keeps its files (and its socket, see ferretDbSocket) in a stack's data directory. */
export function ferretDbDataDir(dataDir: string): string {
  return path.join(dataDir, 'ferretdb');
}

/** The longest unix socket path every platform takes (sun_path is 104 to 108 bytes, with its NUL). */
const MAX_SOCKET_PATH_BYTES = 100;

/**
 * The unix socket a FerretDB with this data directory listens on beside its
 * TCP port, or undefined when the path would be too long for one. The
 * stack's own processes connect through it: a command costs both sides less
 * CPU than over loopback TCP (measured side by side, 10 alternating rounds
 * of inserts and `_id` reads: 204 against 255 us of client CPU per command,
 * 389 against 411 us of FerretDB's).
 */
export function ferretDbSocket(dataDir: string): string | undefined {
  const socket = path.join(dataDir, 'mongodb.sock');
  return Buffer.byteLength(socket) <= MAX_SOCKET_PATH_BYTES ? socket : undefined;
}

/** The URI of database `dbName` ('' for none) on the FerretDB with this data directory and port: its socket, else its TCP port. */
export function ferretDbUri(dataDir: string, port: number, dbName: string): string {
  const socket = ferretDbSocket(dataDir);
  return `mongodb://${socket ? encodeURIComponent(socket) : `${LOOPBACK}:${port}`}/${dbName}`;
}

/** Starts FerretDB on SQLite and resolves once it accepts connections (on its port, and on its socket when it has one). */
export async function startFerretDb(options: FerretDbOptions): Promise<ManagedChild> {
  const sqliteDir = path.join(options.dataDir, 'sqlite');
  const stateDir = path.join(options.dataDir, 'state');
  for (const dir of [sqliteDir, stateDir]) fs.mkdirSync(dir, { recursive: true });
  const socket = ferretDbSocket(options.dataDir);
  // A FerretDB killed before it could remove its socket leaves the file, which would refuse the next listen; the data directory is this FerretDB's alone.
  if (socket) fs.rmSync(socket, { force: true });
  const args = [
    '--handler=sqlite',
    // WAL (FerretDB's default) with synchronous=NORMAL: no fsync per commit,
    // still safe when a process crashes; only a power cut can lose the last
    // commits. Measured 3-4x more inserts/s here. This store is for dev and
    // tests; production runs MongoDB through MONGODB_URI.
    `--sqlite-url=file:${sqliteDir}/?_pragma=synchronous(normal)`,
    `--listen-addr=${LOOPBACK}:${options.port}`,
    ...(socket ? [`--listen-unix=${socket}`] : []),
    `--state-dir=${stateDir}`,
    // Its debug HTTP server defaults to the fixed port 8088, which would clash between stacks.
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-level=error',
  ];
  const child = new ManagedChild({ name: 'ferretdb', command: options.binary, args, env: ferretDbEnv(process.env), echo: options.echo }, options.reaper);
  const probe = async () => (await acceptsConnections(options.port, PROBE_TIMEOUT_MS)) && (!socket || (await acceptsConnections(socket, PROBE_TIMEOUT_MS)));
  await readyOrStopped(child, { what: `FerretDB on port ${options.port}${socket ? ` and ${socket}` : ''}`, probe, timeoutMs: FERRETDB_READY_TIMEOUT_MS });
  return child;
}

/**
 * FerretDB's Go runtime settings, each unless the caller set it:
 * - GOGC=400: its collector runs about a quarter as often as at Go's
 *   default (100). Measured side by side on one workload (8 clients:
 *   inserts, `_id` reads, filtered reads), 12 alternating rounds: 0.75-0.86x
 *   the CPU per command, for about 12 MB more resident memory (63 MB against
 *   51). GOMEMLIMIT keeps a ceiling under which the collector still runs as
 *   needed.
 * - GOMAXPROCS=1: one thread runs its Go code at a time. Each command is a
 *   short burst of work between waits on a socket; with more processors the
 *   runtime keeps waking spare threads to look for work (strace under
 *   bench:e2e: per command about 7 nanosleeps and 3 futex calls besides the
 *   command's own I/O). Its SQLite writes take one lock anyway. Measured in
 *   alternating pairs of 800 top-ups at 16 in flight: FerretDB's CPU per
 *   run 5.4 and 5.5 ms against 6.2 and 6.5, with the same runs/s.
 */
export function ferretDbEnv(parent: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { GOGC: '400', GOMEMLIMIT: '1GiB', GOMAXPROCS: '1', ...parent };
}

export interface TemporalOptions extends Supervision {
  readonly binary: string;
  readonly port: number;
  /** The web UI port; without it the server runs headless (tests). */
  readonly uiPort?: number;
  /** The SQLite file that keeps workflow history across restarts; without it, history is in memory. */
  readonly dbFile?: string;
}

/** Starts the Temporal dev server and resolves once the `default` namespace answers. */
export async function startTemporal(options: TemporalOptions): Promise<ManagedChild> {
  const args = ['server', 'start-dev', '--ip', LOOPBACK, '--port', String(options.port), '--log-level', 'error'];
  args.push(...(options.uiPort ? ['--ui-port', String(options.uiPort), '--ui-disable-news-fetch'] : ['--headless']));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  for (const attribute of TEMPORAL_SEARCH_ATTRIBUTES) args.push('--search-attribute', attribute);
  const child = new ManagedChild({ name: 'temporal', command: options.binary, args, echo: options.echo }, options.reaper);
  const address = `${LOOPBACK}:${options.port}`;
  await readyOrStopped(child, { what: `Temporal on ${address}`, probe: () => temporalAnswers(address), timeoutMs: TEMPORAL_READY_TIMEOUT_MS });
  return child;
}

/** The port accepting is not enough: the frontend must serve the `default` namespace. */
async function temporalAnswers(address: string): Promise<boolean> {
  if (!(await acceptsConnections(Number(address.split(':')[1]), PROBE_TIMEOUT_MS))) return false;
  const connection = await Connection.connect({ address, connectTimeout: PROBE_TIMEOUT_MS });
  try {
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } finally {
    await connection.close();
  }
}

export interface MailDevOptions extends Supervision {
  readonly smtpPort: number;
  readonly webPort: number;
  /** Keeps received mail across restarts; without it, mail is in memory. */
  readonly mailDir?: string;
}

/** Starts MailDev (SMTP capture plus web UI and REST API) and resolves once both answer. */
export async function startMailDev(options: MailDevOptions): Promise<ManagedChild> {
  const args = [maildevScript(), '--smtp', String(options.smtpPort), '--web', String(options.webPort), '--ip', LOOPBACK, '--web-ip', LOOPBACK];
  if (options.mailDir) {
    fs.mkdirSync(options.mailDir, { recursive: true });
    args.push('--mail-directory', options.mailDir);
  }
  const child = new ManagedChild({ name: 'maildev', command: process.execPath, args, echo: options.echo }, options.reaper);
  const probe = async () =>
    (await answersHttp(`http://${LOOPBACK}:${options.webPort}/healthz`, 200, PROBE_TIMEOUT_MS)) && acceptsConnections(options.smtpPort, PROBE_TIMEOUT_MS);
  await readyOrStopped(child, { what: `MailDev on ports ${options.smtpPort} (SMTP) and ${options.webPort} (web)`, probe, timeoutMs: MAILDEV_READY_TIMEOUT_MS });
  return child;
}

/** MailDev's CLI script, found through node_modules/.bin (the package exports no bin path). */
function maildevScript(): string {
  return fs.realpathSync(path.join(REPO_DIR, 'node_modules', '.bin', 'maildev'));
}

/** Waits for readiness; a service that fails to get ready is stopped, not left behind. */
async function readyOrStopped(child: ManagedChild, check: Parameters<typeof waitUntilReady>[1]): Promise<void> {
  try {
    await waitUntilReady(child, check);
  } catch (error) {
    await child.stop(SERVICE_STOP_GRACE_MS);
    throw error;
  }
}
