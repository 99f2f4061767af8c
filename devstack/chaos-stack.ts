// The chaos run's stack: FerretDB, the Temporal dev server (on a SQLite
// file), MailDev (with a mail folder) and two APIs and two workers, each
// configured by env as `npm run dev` configures them, with everything in
// one temporary folder. This module owns every process of the run end to
// end: it starts each one, kills it with SIGKILL (its whole process group,
// as a crashing container would go), restarts it on the same port and data,
// restarts one that died by itself (as a process manager would, counting
// it), and stops all of them at the end.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { KillKind } from './chaos-plan';
import { stablePort } from './chaos-ports';
import { describeExit, ManagedChild, type ChildExit } from './managed-child';
import { OrphanReaper } from './orphan-reaper';
import { REPO_DIR } from './paths';
import { LOOPBACK } from './ports';
import { ferretDbDataDir, ferretDbUri, SERVICE_STOP_GRACE_MS, startFerretDb, startMailDev, startTemporal } from './services';
import { ensureTools } from './tools';
import { answersHttp, waitUntilReady } from './wait-ready';

/** Each process of the stack by name; `api-1`, `worker-2` and so on. */
export type ProcessName = 'ferretdb' | 'temporal' | 'maildev' | `api-${1 | 2}` | `worker-${1 | 2}`;

/** The API compiles TypeScript at start; a worker also bundles the workflows (webpack), slow on 2 busy cores. */
const API_READY_TIMEOUT_MS = 120_000;
const WORKER_READY_TIMEOUT_MS = 240_000;
const PROBE_TIMEOUT_MS = 2_000;
/** A restart that keeps failing (its dependency is down too) is tried again until this bound, then the run aborts. */
const RESTART_DEADLINE_MS = 300_000;
const RESTART_BACKOFF_MS = [500, 1_000, 2_000, 5_000] as const;
/** The grace the processes get when the run ends (SIGTERM, then SIGKILL). */
const STOP_GRACE_MS = SERVICE_STOP_GRACE_MS;

/** A process that exited without being killed by the run, restarted since. */
export interface UnplannedExit {
  readonly name: ProcessName;
  readonly exit: string;
  readonly atMs: number;
  readonly lastOutput: string;
}

/** Where everything listens; fixed for the whole run, so a restart binds the same ports. */
export interface ChaosEndpoints {
  readonly apiUrls: readonly string[];
  readonly mongodbUri: string;
  readonly temporalAddress: string;
  readonly smtpUrl: string;
  readonly maildevUrl: string;
  readonly adminKey: string;
}

interface Running {
  readonly child: ManagedChild;
  readonly pid: number;
}

/** One restartable process: how to start it, and its current incarnation. */
class Slot {
  current: Running | undefined;
  /** Serialises kills and restarts of this process. */
  queue: Promise<unknown> = Promise.resolve();
  /** Set while the run itself kills or stops the process: that exit is planned. */
  planned = false;

  constructor(
    readonly name: ProcessName,
    readonly isApp: boolean,
    readonly launch: () => Promise<Running>,
  ) {}
}

/** An OrphanReaper that also remembers the last pid it was given: the child a ManagedChild constructor just spawned. */
class PidCapturingReaper extends OrphanReaper {
  private last: number | undefined;

  override watch(pid: number): void {
    super.watch(pid);
    this.last = pid;
  }

  /** The pid of the ManagedChild constructed synchronously inside `spawn`. */
  capture<T>(spawn: () => T): { value: T; pid: number } {
    this.last = undefined;
    const value = spawn();
    if (this.last === undefined) throw new Error('the child did not start (no pid)');
    return { value, pid: this.last };
  }
}

export class ChaosStack {
  readonly unplannedExits: UnplannedExit[] = [];
  private readonly reaper = new PidCapturingReaper();
  private readonly slots = new Map<ProcessName, Slot>();
  private readonly startedAt = Date.now();
  private stopping = false;
  private fatal: Error | undefined;

  private constructor(
    readonly dataDir: string,
    readonly endpoints: ChaosEndpoints,
    private readonly say: (message: string) => void,
  ) {}

  /**
   * Provisions the tools, picks the ports, and starts the services, then the
   * two APIs and two workers; resolves once all answer. On failure what
   * started is stopped before the error is passed on.
   */
  static async start(dataDir: string, say: (message: string) => void): Promise<ChaosStack> {
    const tools = await ensureTools({ ferretdb: true, temporal: true });
    const taken = new Set<number>();
    const port = () => stablePort(taken);
    const [ferretPort, temporalPort, smtpPort, maildevPort, api1, api2, metrics1, metrics2] = await sequence(8, port);
    const endpoints: ChaosEndpoints = {
      apiUrls: [`http://${LOOPBACK}:${api1}`, `http://${LOOPBACK}:${api2}`],
      mongodbUri: ferretDbUri(ferretDbDataDir(dataDir), ferretPort!, 'creditflow'),
      temporalAddress: `${LOOPBACK}:${temporalPort}`,
      smtpUrl: `smtp://${LOOPBACK}:${smtpPort}`,
      maildevUrl: `http://${LOOPBACK}:${maildevPort}`,
      adminKey: randomBytes(32).toString('base64url'),
    };
    const stack = new ChaosStack(dataDir, endpoints, say);
    const supervision = { echo: false, reaper: stack.reaper };
    const service = (spawn: () => Promise<ManagedChild>) => async (): Promise<Running> => {
      const { value, pid } = stack.reaper.capture(spawn);
      return { child: await value, pid };
    };
    stack.add('ferretdb', false, service(() => startFerretDb({ ...supervision, binary: tools.ferretdb!, port: ferretPort!, dataDir: ferretDbDataDir(dataDir) })));
    stack.add('temporal', false, service(() => startTemporal({ ...supervision, binary: tools.temporal!, port: temporalPort!, dbFile: path.join(dataDir, 'temporal.db') })));
    stack.add('maildev', false, service(() => startMailDev({ ...supervision, smtpPort: smtpPort!, webPort: maildevPort!, mailDir: path.join(dataDir, 'maildev') })));
    for (const [index, apiPort] of [api1!, api2!].entries()) {
      stack.add(`api-${(index + 1) as 1 | 2}`, true, () => stack.launchApp(`api-${(index + 1) as 1 | 2}`, 'admin-api/main.ts', { PORT: String(apiPort) }, `http://${LOOPBACK}:${apiPort}/readyz`, API_READY_TIMEOUT_MS));
    }
    for (const [index, metricsPort] of [metrics1!, metrics2!].entries()) {
      // The worker's metrics endpoint answers once the worker is built (workflows bundled, Temporal reached): its readiness probe.
      stack.add(`worker-${(index + 1) as 1 | 2}`, true, () => stack.launchApp(`worker-${(index + 1) as 1 | 2}`, 'engine/worker-main.ts', { METRICS_PORT: String(metricsPort) }, `http://${LOOPBACK}:${metricsPort}/metrics`, WORKER_READY_TIMEOUT_MS));
    }
    try {
      await Promise.all((['ferretdb', 'temporal', 'maildev'] as const).map((name) => stack.startSlot(name)));
      await Promise.all((['api-1', 'api-2', 'worker-1', 'worker-2'] as const).map((name) => stack.startSlot(name)));
    } catch (error) {
      await stack.stop();
      throw error;
    }
    return stack;
  }

  /** The processes a kill of this kind may hit. */
  candidates(kind: KillKind): ProcessName[] {
    if (kind === 'worker') return ['worker-1', 'worker-2'];
    if (kind === 'api') return ['api-1', 'api-2'];
    return [kind];
  }

  /** The run could not go on (a process would not come back); set once, checked by the caller. */
  get failure(): Error | undefined {
    return this.fatal;
  }

  /**
   * `kill -9` on the process's group, then `downMs` of nothing, then a
   * restart on the same port and data. A process still coming back from an
   * earlier kill is killed once it answers again. Resolves once it answers
   * after this kill, with the pid killed, when, and how long the restart took.
   */
  killAndRestart(name: ProcessName, downMs: number, onKilled: (pid: number) => void = () => undefined): Promise<{ pid: number; killedAt: number; restartMs: number }> {
    const slot = this.slot(name);
    return this.serial(slot, async () => {
      const running = slot.current;
      if (!running) throw new Error(`${name} is not running`);
      slot.planned = true;
      const killedAt = Date.now();
      signalGroup(running.pid, 'SIGKILL');
      onKilled(running.pid);
      await running.child.exited;
      slot.current = undefined;
      slot.planned = false;
      await sleep(downMs);
      const restartStarted = Date.now();
      await this.restart(slot);
      return { pid: running.pid, killedAt, restartMs: Date.now() - restartStarted };
    });
  }

  /** Stops the process gracefully (a planned exit) until `resume`: a measurement with one worker fewer. */
  pause(name: ProcessName): Promise<void> {
    const slot = this.slot(name);
    return this.serial(slot, async () => {
      slot.planned = true;
      await slot.current?.child.stop(STOP_GRACE_MS);
      slot.current = undefined;
    });
  }

  /** Starts a paused process again; resolves once it answers. */
  resume(name: ProcessName): Promise<void> {
    const slot = this.slot(name);
    return this.serial(slot, async () => {
      slot.planned = false;
      await this.restart(slot);
    });
  }

  /** Stops every process (apps first, then services: SIGTERM, SIGKILL after the grace) and the reaper; safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const stopAll = async (apps: boolean) => {
      const slots = [...this.slots.values()].filter((slot) => slot.isApp === apps);
      await Promise.all(slots.map(async (slot) => {
        slot.planned = true;
        await slot.current?.child.stop(STOP_GRACE_MS);
      }));
    };
    await stopAll(true);
    await stopAll(false);
    // A restart in flight may have spawned a process after the stops above.
    await sleep(100);
    await Promise.all([...this.slots.values()].map((slot) => slot.current?.child.stop(STOP_GRACE_MS)));
    this.reaper.close();
  }

  /** Where a process writes its output: apps to a file each, services keep their last lines only. */
  logFile(name: ProcessName): string {
    return path.join(this.dataDir, 'logs', `${name}.log`);
  }

  private add(name: ProcessName, isApp: boolean, launch: () => Promise<Running>): void {
    this.slots.set(name, new Slot(name, isApp, launch));
  }

  private slot(name: ProcessName): Slot {
    const slot = this.slots.get(name);
    if (!slot) throw new Error(`no process named ${name}`);
    return slot;
  }

  private serial<T>(slot: Slot, step: () => Promise<T>): Promise<T> {
    const result = slot.queue.then(step);
    slot.queue = result.catch(() => undefined);
    return result;
  }

  private async startSlot(name: ProcessName): Promise<void> {
    const slot = this.slot(name);
    await this.serial(slot, async () => this.watch(slot, await slot.launch()));
  }

  /** Starts the process again until it answers, backing off while what it needs is down too. */
  private async restart(slot: Slot): Promise<void> {
    const deadline = Date.now() + RESTART_DEADLINE_MS;
    for (let attempt = 0; ; attempt += 1) {
      if (this.stopping) return;
      try {
        this.watch(slot, await slot.launch());
        return;
      } catch (error) {
        if (Date.now() > deadline) {
          this.fatal ??= new Error(`${slot.name} did not come back within ${RESTART_DEADLINE_MS / 1000} s: ${(error as Error).message}`);
          throw this.fatal;
        }
        this.say(`${slot.name} did not start (attempt ${attempt + 1}), trying again: ${firstLine((error as Error).message)}`);
        await sleep(RESTART_BACKOFF_MS[Math.min(attempt, RESTART_BACKOFF_MS.length - 1)]!);
      }
    }
  }

  /** Records the running process and restarts it when it exits without the run having killed it. */
  private watch(slot: Slot, running: Running): void {
    slot.current = running;
    void running.child.exited.then((exit) => {
      if (slot.planned || this.stopping || slot.current !== running) return;
      this.onUnplannedExit(slot, running, exit);
    });
  }

  private onUnplannedExit(slot: Slot, running: Running, exit: ChildExit): void {
    const lastOutput = slot.isApp ? tailOfFile(this.logFile(slot.name)) : running.child.tail();
    this.unplannedExits.push({ name: slot.name, exit: describeExit(exit), atMs: Date.now() - this.startedAt, lastOutput });
    this.say(`${slot.name} exited by itself (${describeExit(exit)}); restarting it. Its last output:\n${indent(lastOutput)}`);
    void this.serial(slot, async () => {
      if (slot.current === running) slot.current = undefined;
      await this.restart(slot);
    }).catch(() => undefined);
  }

  /**
   * Starts an API or a worker as `npm run dev` does (node --import tsx, env
   * only), its output appended to its log file, and waits for its probe.
   */
  private async launchApp(name: ProcessName, entry: string, own: Record<string, string>, probeUrl: string, timeoutMs: number): Promise<Running> {
    const logFile = this.logFile(name);
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    const args = ['-c', 'exec "$@" >>"$CHAOS_LOG_FILE" 2>&1', 'sh', process.execPath, '--import', 'tsx', path.join(REPO_DIR, entry)];
    const env = { ...process.env, ...appEnv(this.endpoints), ...own, CHAOS_LOG_FILE: logFile };
    const { value: child, pid } = this.reaper.capture(() => new ManagedChild({ name, command: '/bin/sh', args, cwd: REPO_DIR, env, echo: false }, this.reaper));
    try {
      await waitUntilReady(child, { what: `${name} (${probeUrl})`, probe: () => answersHttp(probeUrl, 200, PROBE_TIMEOUT_MS), timeoutMs });
    } catch (error) {
      await child.stop(STOP_GRACE_MS);
      throw new Error(`${(error as Error).message}; its log: ${logFile}:\n${indent(tailOfFile(logFile))}`);
    }
    return { child, pid };
  }
}

/**
 * The env `npm run dev` gives the API and the worker (devstack/dev-command.ts),
 * pointed at this stack. Rate limits are lifted (two replicas take the whole
 * load from one key), and each process runs one sandbox process to leave
 * the 2 cores to the rest.
 */
function appEnv(endpoints: ChaosEndpoints): Record<string, string> {
  return {
    HOST: LOOPBACK,
    MONGODB_URI: endpoints.mongodbUri,
    TEMPORAL_ADDRESS: endpoints.temporalAddress,
    SMTP_URL: endpoints.smtpUrl,
    ADMIN_API_KEY: endpoints.adminKey,
    API_KEY_PEPPER: '',
    // info: every write request is logged with its status, so a violation can be traced to the requests behind it.
    LOG_LEVEL: 'info',
    RATE_LIMIT_EVENTS_PER_MINUTE: '1000000',
    SCRIPT_SANDBOX_PROCESSES: '1',
    WEBHOOK_ALLOWED_HOSTS: '',
    PAYMENT_GATEWAYS: '',
    CANCEL_HOLD_HOURS: '24',
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

async function sequence<T>(count: number, make: () => Promise<T>): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < count; i += 1) values.push(await make());
  return values;
}

/** The last lines of a log file (at most 4 KB of it). */
function tailOfFile(file: string, bytes = 4_096): string {
  try {
    const size = fs.statSync(file).size;
    const fd = fs.openSync(file, 'r');
    try {
      const buffer = Buffer.alloc(Math.min(bytes, size));
      fs.readSync(fd, buffer, 0, buffer.length, size - buffer.length);
      return buffer.toString('utf8').split('\n').slice(-20).join('\n').trim();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}

function indent(text: string): string {
  return (text || '(nothing)').split('\n').map((line) => `    ${line}`).join('\n');
}
