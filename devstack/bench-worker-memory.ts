// `npm run bench:worker-memory [runs] [concurrency]` (default 10,000, 16):
// the worker's memory over many runs of the documented top-up (zero wait).
// A throwaway stack (Temporal dev server, FerretDB, MailDev) and the API in
// this process, as bench:e2e has them; the worker is the real entry,
// engine/worker-main.ts, in its own process with the env it gets in
// production (LOG_LEVEL info, metrics on, the default sandbox), so its RSS
// is the worker's alone; the sandbox's child processes are read beside it.
// The worker is started with node --expose-gc and devstack/memory-probe.cjs,
// which answers this process's IPC request for a reading: gc in the main
// thread and the workflow threads, a pause, gc, then RSS and the heaps.
// After a warm-up of WARMUP_RUNS runs the worker's RSS is read, again after
// every SAMPLE_EVERY runs (the load drains first, so every reading is taken
// alike) and after the last. Every run is sent through POST /v1/events and
// awaited to its result, `concurrency` in flight. The figures are for the
// runs measured, never extrapolated. The last stdout line is the
// BENCH_RESULT line `npm run bench` reads.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { buildApi } from '../admin-api/server';
import { loadConfig } from '../engine/config';
import { connectStore } from '../engine/store';
import { documentedTopUpTrigger, topUpEvent } from '../engine/triggers/documented-top-up';
import { createSandbox } from '../scripts-sandbox';
import { apiClient } from './api-client';
import { WORKER_MAX_RSS_GROWTH_MB, WORKER_RSS_GROWTH_RUNS } from './bench-goals';
import { printBenchResult, type BenchResult } from './bench-result';
import { OrphanReaper } from './orphan-reaper';
import { REPO_DIR } from './paths';
import { freePort, LOOPBACK } from './ports';
import { startTestStack } from './test-stack';
import { answersHttp } from './wait-ready';

const RUNS = Number(process.argv[2] ?? 10_000);
const CONCURRENCY = Number(process.argv[3] ?? 16);
/** Runs before the first reading, so that start-up (bundling, JIT, connection pools) does not count. */
const WARMUP_RUNS = 200;
/** A reading after every this many measured runs, so a steady climb shows. */
const SAMPLE_EVERY = 1_000;
/** The pause between the two collections of a reading. */
const SETTLE_PAUSE_MS = 2_000;
const TASK_QUEUE = 'bench-worker-memory';
const ADMIN_KEY = 'bench-admin-key-0123456789';
/** Bundling the workflows (webpack) on 2 busy cores takes most of this. */
const WORKER_READY_TIMEOUT_MS = 180_000;
const WORKER_STOP_GRACE_MS = 15_000;
/** BENCH_WORKER_LOG=<file> keeps the worker's log (JSON lines) there; otherwise it goes with the temporary folder. */
const WORKER_LOG = process.env.BENCH_WORKER_LOG ? path.resolve(process.env.BENCH_WORKER_LOG) : undefined;
const PROBE = path.join(REPO_DIR, 'devstack', 'memory-probe.cjs');
const MB = 1024 * 1024;

/** devstack/memory-probe.cjs's answer, in bytes. */
interface ProbeAnswer {
  rss: number;
  /** Memory outside the main heap that V8 knows of (Buffers among it). */
  external: number;
  /** The main thread's V8 heap: in use, and resident (pages committed plus V8's own malloc). */
  heapUsed: number;
  heapPhysical: number;
  /** The same for the worker threads (Temporal's workflow threads), each collected, summed. */
  threadsHeapUsed: number;
  threadsHeapPhysical: number;
  threads: number;
}

type Sample = Extract<BenchResult, { bench: 'worker-memory' }>['samples'][number];

/** The worker process: engine/worker-main.ts under node --expose-gc with the memory probe, its output in a log file. */
class MeasuredWorker {
  private nextId = 0;
  private stopping = false;
  private readonly exited: Promise<unknown>;
  /** Rejects if the worker exits before `stop`: runs would then wait for a worker that is gone. */
  readonly died: Promise<never>;

  private constructor(private readonly child: ChildProcess, readonly logFile: string, private readonly reaper: OrphanReaper) {
    this.exited = once(child, 'exit');
    this.died = this.exited.then(() => {
      throw new Error(this.stopping ? 'the worker was stopped' : `the worker exited (${child.exitCode ?? child.signalCode}); its log:\n${this.tail()}`);
    });
    this.died.catch(() => undefined);
  }

  static async start(env: NodeJS.ProcessEnv, logFile: string, metricsPort: number, reaper: OrphanReaper): Promise<MeasuredWorker> {
    const log = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--expose-gc', '--require', PROBE, '--import', 'tsx', path.join(REPO_DIR, 'engine', 'worker-main.ts')], {
      cwd: REPO_DIR, env, stdio: ['ignore', log, log, 'ipc'], detached: true,
    });
    fs.closeSync(log);
    if (child.pid) reaper.watch(child.pid);
    const worker = new MeasuredWorker(child, logFile, reaper);
    const deadline = Date.now() + WORKER_READY_TIMEOUT_MS;
    // The metrics endpoint answers once the worker is built (workflows bundled, Temporal reached).
    while (!(await answersHttp(`http://${LOOPBACK}:${metricsPort}/metrics`, 200, 1_000).catch(() => false))) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the worker exited during startup; its log:\n${worker.tail()}`);
      if (Date.now() > deadline) throw new Error(`the worker was not ready within ${WORKER_READY_TIMEOUT_MS / 1000} s; its log:\n${worker.tail()}`);
      await sleep(250);
    }
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The worker's memory after gc, a pause and gc (devstack/memory-probe.cjs). */
  async settledMemory(): Promise<ProbeAnswer> {
    const id = (this.nextId += 1);
    const answer = new Promise<ProbeAnswer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the worker did not answer the memory probe (started without --expose-gc or the probe?)')), SETTLE_PAUSE_MS + 30_000);
      const onMessage = (message: ProbeAnswer & { type?: string; id?: number }) => {
        if (message?.type !== 'memory-probe' || message.id !== id) return;
        clearTimeout(timer);
        this.child.off('message', onMessage);
        resolve(message);
      };
      this.child.on('message', onMessage);
    });
    this.child.send({ type: 'memory-probe', id, pauseMs: SETTLE_PAUSE_MS });
    return answer;
  }

  /** RSS of the worker's child processes (the script sandbox's), summed, in bytes; nothing collected in them. */
  childrenRss(): number {
    const children = readText(`/proc/${this.pid}/task/${this.pid}/children`).split(/\s+/).filter(Boolean);
    return children.reduce((total, pid) => total + vmRssBytes(pid), 0);
  }

  tail(): string {
    return readText(this.logFile).trim().split('\n').slice(-20).join('\n');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      signalGroup(this.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), WORKER_STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
    this.reaper.forget(this.pid);
  }
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function vmRssBytes(pid: string): number {
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(readText(`/proc/${pid}/status`))?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

const mb = (bytes: number) => bytes / MB;
const fixed = (value: number, digits = 1) => value.toFixed(digits);

async function main(): Promise<void> {
  if (!Number.isInteger(RUNS) || RUNS < 1 || !Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) throw new Error('usage: bench-worker-memory.ts [runs >= 1] [concurrency >= 1]');
  const stack = await startTestStack({});
  const reaper = new OrphanReaper();
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditflow-bench-worker-memory-'));
  const stopAll: Array<() => Promise<unknown>> = [async () => { reaper.close(); await stack.stop(); }];
  try {
    const mongodbUri = `${stack.env.MONGODB_URI}bench`;
    const metricsPort = await freePort();
    const workerEnv: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      HOST: LOOPBACK,
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
      ADMIN_API_KEY: ADMIN_KEY,
      MONGODB_URI: mongodbUri,
      TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      SMTP_URL: stack.env.SMTP_URL,
      MAIL_FROM: 'bench@creditflow.local',
    };
    delete workerEnv.NODE_OPTIONS;
    const worker = await MeasuredWorker.start(workerEnv, WORKER_LOG ?? path.join(tempDir, 'worker.log'), metricsPort, reaper);
    stopAll.unshift(() => worker.stop());

    const config = loadConfig({ ADMIN_API_KEY: ADMIN_KEY, MONGODB_URI: mongodbUri, TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE: TASK_QUEUE, LOG_LEVEL: 'silent', RATE_LIMIT_EVENTS_PER_MINUTE: '1000000' });
    const store = await connectStore(mongodbUri);
    const connection = await Connection.connect({ address: stack.env.TEMPORAL_ADDRESS });
    const client = new Client({ connection });
    const sandbox = createSandbox({ processes: 1 });
    stopAll.unshift(async () => { sandbox.dispose(); await store.close(); await connection.close(); });
    const api = buildApi({ config, logger: pino({ level: 'silent' }), store, temporal: client, sandbox });
    await api.ensureIndexes();
    const server = api.app.listen(0, LOOPBACK);
    // The client's keep-alive sockets idle through every reading; the default 5 s would close some just as they are reused (ECONNRESET).
    server.keepAliveTimeout = 10 * 60_000;
    await once(server, 'listening');
    stopAll.unshift(async () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }));
    const http = apiClient(`http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, ADMIN_KEY);
    const created = await http.call('POST', '/v1/triggers', documentedTopUpTrigger({ waitSeconds: 0 }));
    if (created.status !== 201) throw new Error(`creating the top-up answered ${created.status}: ${JSON.stringify(created.body)}`);

    let sent = 0;
    /** `count` top-ups through the API, `CONCURRENCY` in flight, each awaited to its result. */
    const drive = async (count: number): Promise<void> => {
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, async () => {
        while (next < count) {
          next += 1;
          const i = (sent += 1);
          const user = { id: `memory_user_${i}`, email: `m${i}@bench.local`, name: 'Bench' };
          const accepted = await http.call<{ runs?: Array<{ workflowId: string }> }>('POST', '/v1/events', topUpEvent({ eventId: `evt_memory_${i}`, reservationId: `res_memory_${i}`, priceInt: 5000, user }));
          const workflowId = accepted.body?.runs?.[0]?.workflowId;
          if (accepted.status !== 202 || !workflowId) throw new Error(`POST /v1/events answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
          await client.workflow.getHandle(workflowId).result();
        }
      }));
    };

    const cpus = os.cpus();
    console.log(`${num(RUNS)} top-up runs after ${WARMUP_RUNS} warm-up runs, ${CONCURRENCY} in flight; one worker process (engine/worker-main.ts, node --expose-gc), the API in the load process; ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}); node ${process.version}; ${new Date().toISOString()}`);
    console.log(`worker RSS read after gc (main and workflow threads), a ${SETTLE_PAUSE_MS / 1000} s pause and gc, with no run in flight; sandbox processes read beside it (not collected)`);
    const WIDTHS = [7, 11, 9, 19, 9, 20, 9, 12, 7];
    const row = (cells: string[]) => console.log(cells.map((cell, i) => cell.padStart(WIDTHS[i]!)).join('  '));
    console.log('heaps: in use / resident, MB; other: RSS less the heaps and external, MB\n');
    row(['runs', 'worker RSS', 'growth', 'main heap', 'external', 'workflow threads', 'other', 'sandbox RSS', 'runs/s']);
    const samples: Sample[] = [];
    const read = async (runs: number, runsPerS: number | undefined): Promise<Sample> => {
      const memory = await worker.settledMemory();
      const sample: Sample = { runs, rssMb: mb(memory.rss), heapUsedMb: mb(memory.heapUsed), threadsHeapUsedMb: mb(memory.threadsHeapUsed), sandboxRssMb: mb(worker.childrenRss()) };
      const growth = samples.length > 0 ? sample.rssMb - samples[0]!.rssMb : 0;
      const other = memory.rss - memory.heapPhysical - memory.threadsHeapPhysical - memory.external;
      row([
        num(runs), `${fixed(sample.rssMb)} MB`, `${growth >= 0 ? '+' : ''}${fixed(growth)} MB`,
        `${fixed(sample.heapUsedMb)} / ${fixed(mb(memory.heapPhysical))}`, fixed(mb(memory.external)),
        `${fixed(sample.threadsHeapUsedMb)} / ${fixed(mb(memory.threadsHeapPhysical))} (${memory.threads})`, fixed(mb(other)),
        `${fixed(sample.sandboxRssMb)} MB`, runsPerS === undefined ? '-' : fixed(runsPerS),
      ]);
      samples.push(sample);
      return sample;
    };

    await Promise.race([drive(WARMUP_RUNS), worker.died]);
    const before = await read(0, undefined);
    let measured = 0;
    let driveMs = 0;
    const startedAt = performance.now();
    while (measured < RUNS) {
      const chunk = Math.min(SAMPLE_EVERY, RUNS - measured);
      const chunkStarted = performance.now();
      await Promise.race([drive(chunk), worker.died]);
      const chunkMs = performance.now() - chunkStarted;
      driveMs += chunkMs;
      measured += chunk;
      await read(measured, (chunk / chunkMs) * 1000);
    }
    const wallMs = performance.now() - startedAt;
    const after = samples.at(-1)!;
    const growthMb = after.rssMb - before.rssMb;
    const verdict = growthMb >= WORKER_MAX_RSS_GROWTH_MB ? 'not met' : RUNS >= WORKER_RSS_GROWTH_RUNS ? 'met' : `open, ${num(RUNS)} runs measured`;
    console.log(`\nworker RSS ${fixed(before.rssMb)} MB after the warm-up, ${fixed(after.rssMb)} MB after ${num(RUNS)} more runs: ${growthMb >= 0 ? '+' : ''}${fixed(growthMb)} MB (goal < ${WORKER_MAX_RSS_GROWTH_MB} MB over ${num(WORKER_RSS_GROWTH_RUNS)} runs: ${verdict})`);
    console.log(`${num(RUNS)} runs in ${fixed(driveMs / 1000, 0)} s of load (${fixed((RUNS / driveMs) * 1000)} runs/s), ${fixed(wallMs / 1000, 0)} s with the readings`);
    printBenchResult({
      bench: 'worker-memory', runs: RUNS, warmupRuns: WARMUP_RUNS, concurrency: CONCURRENCY,
      rssBeforeMb: before.rssMb, rssAfterMb: after.rssMb, rssAfterGc: true, samples, runsPerS: (RUNS / driveMs) * 1000,
    });
  } catch (error) {
    // Said before the stops: closing the Temporal connection under runs still awaited can end this process first.
    console.error(error);
    process.exitCode = 1;
  } finally {
    for (const stop of stopAll) await stop().catch(() => undefined);
    fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

function num(value: number): string {
  return value.toLocaleString('en-US');
}

main().then(() => process.exit(process.exitCode ?? 0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
