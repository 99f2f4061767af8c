// `npm run bench:api [seconds per phase]`: how responsive the API stays while
// large events arrive. The API runs as its own process (admin-api/main.ts,
// as production runs it) on a throwaway FerretDB and Temporal dev server
// (without a Temporal, every trigger save waits out its 5-second schedule
// sync); this process samples GET /healthz one request at a time and prints
// its latency:
//
//   1. idle (the baseline, measured in the same run);
//   2. while 4 senders post events at the limits (EVENT_BODY_LIMIT_BYTES
//      and MAX_EVENT_VALUES) that no trigger matches;
//   3. the same, with 20 enabled triggers on that event type whose filters
//      (accepted at save) scan the event's data and match nothing;
//   4. while 4 senders post 1 MB events, which the limit refuses.
//
// The last stdout line is the BENCH_RESULT line `npm run bench` reads.
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MAX_EVENT_VALUES } from '../admin-api/events/routes';
import { printBenchResult } from './bench-result';
import { REPO_DIR } from './paths';
import { freePort, LOOPBACK } from './ports';
import { startTestStack } from './test-stack';
import { answersHttp } from './wait-ready';

const PHASE_SECONDS = Number(process.argv[2] ?? 10);
const SENDERS = 4;
const EVENT_LIMIT_BYTES = 256 * 1024;
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef';

interface Phase {
  name: string;
  healthzMs: number[];
  sent: number;
  statuses: Map<number, number>;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One POST with a prepared body; resolves with the status. */
function post(agent: http.Agent, port: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: LOOPBACK, port, path: '/v1/events', method: 'POST', agent, headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': body.length } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end(body);
  });
}

function healthz(agent: http.Agent, port: number): Promise<number> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    http.get({ host: LOOPBACK, port, path: '/healthz', agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(performance.now() - startedAt));
    }).on('error', reject);
  });
}

/**
 * Event bodies built from one prepared data part, so the senders cost this
 * process (which also times /healthz) a copy per event, not a serialization.
 */
function bodiesWith(dataJson: string): (id: string) => Buffer {
  const data = Buffer.from(dataJson);
  const end = Buffer.from('}');
  return (id) => Buffer.concat([Buffer.from(`{"id":"${id}","type":"bench.large","data":`), data, end]);
}

/** Events at both limits: as many values as allowed, padded with one string up to the byte limit. */
function eventsAtLimits(): (id: string) => Buffer {
  const items = Array.from({ length: MAX_EVENT_VALUES - 2 }, (_, i) => `v${i}`);
  // Room for the longest id the phases send (48 characters), so every event is within the limit.
  const overhead = Buffer.byteLength(JSON.stringify({ id: 'x'.repeat(48), type: 'bench.large', data: { items, pad: '' } }));
  return bodiesWith(JSON.stringify({ items, pad: 'x'.repeat(Math.max(0, EVENT_LIMIT_BYTES - overhead)) }));
}

function oversizedEvents(): (id: string) => Buffer {
  return bodiesWith(JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }));
}

async function runPhase(name: string, port: number, body: ((i: number) => Buffer) | undefined): Promise<Phase> {
  const phase: Phase = { name, healthzMs: [], sent: 0, statuses: new Map() };
  const deadline = performance.now() + PHASE_SECONDS * 1000;
  const senders = body === undefined ? [] : Array.from({ length: SENDERS }, async (_, sender) => {
    const agent = new http.Agent({ keepAlive: true });
    for (let i = 0; performance.now() < deadline; i += 1) {
      const status = await post(agent, port, body(sender * 1_000_000 + i)).catch(() => 0);
      phase.sent += 1;
      phase.statuses.set(status, (phase.statuses.get(status) ?? 0) + 1);
    }
  });
  const probe = (async () => {
    const agent = new http.Agent({ keepAlive: true });
    while (performance.now() < deadline) {
      phase.healthzMs.push(await healthz(agent, port));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  await Promise.all([probe, ...senders]);
  return phase;
}

/** Prints the phase's line and returns its figures for the result line. */
function report(phase: Phase): { name: string; p50Ms: number; p99Ms: number; eventsPerS: number } {
  const sorted = [...phase.healthzMs].sort((a, b) => a - b);
  const figures = { name: phase.name, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), eventsPerS: phase.sent / PHASE_SECONDS };
  const statuses = [...phase.statuses].map(([status, count]) => `${count} x ${status}`).join(', ');
  const load = phase.sent > 0 ? `${figures.eventsPerS.toFixed(1).padStart(6)} events/s (${statuses})` : 'no load';
  console.log(`${phase.name.padEnd(44)} /healthz p50 ${figures.p50Ms.toFixed(1).padStart(6)} ms  p99 ${figures.p99Ms.toFixed(1).padStart(6)} ms  max ${sorted.at(-1)!.toFixed(1).padStart(6)} ms   ${load}`);
  return figures;
}

const FILTERING_TRIGGERS = 20;

/** Triggers on the bench's event type whose filters walk the event's data and never match, so no run starts. */
async function createFilteringTriggers(port: number, count: number): Promise<void> {
  const filters = [
    { 'data.items': { $in: ['absent'] } },
    { 'data.items': { $all: ['v1', 'absent'] } },
    { 'data.pad': { $regex: '^y' } },
    { $expr: { $gt: [{ $size: '$data.items' }, 100_000] } },
  ];
  for (let i = 0; i < count; i += 1) {
    const body = Buffer.from(JSON.stringify({ name: `bench filter ${i}`, on: { types: ['bench.large'], filter: filters[i % filters.length] }, tasks: [{ id: 'noop', type: 'script', code: 'return 1;' }] }));
    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request({ host: LOOPBACK, port, path: '/v1/triggers', method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json', 'content-length': body.length } }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      request.on('error', reject);
      request.end(body);
    });
    if (status !== 201) throw new Error(`creating bench trigger ${i} answered ${status}`);
  }
}

async function main(): Promise<void> {
  const stack = await startTestStack({}, { ferretdb: true, temporal: true, maildev: false });
  const port = await freePort();
  const mongodbUri = new URL(stack.env.MONGODB_URI);
  mongodbUri.pathname = '/bench_api';
  const api = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_DIR, 'admin-api', 'main.ts')], {
    cwd: REPO_DIR,
    env: { ...process.env, PORT: String(port), HOST: LOOPBACK, MONGODB_URI: mongodbUri.toString(), TEMPORAL_ADDRESS: stack.env.TEMPORAL_ADDRESS, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'silent', EVENT_BODY_LIMIT_BYTES: String(EVENT_LIMIT_BYTES), RATE_LIMIT_EVENTS_PER_MINUTE: '1000000' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    const readyBy = performance.now() + 60_000;
    while (!(await answersHttp(`http://${LOOPBACK}:${port}/healthz`, 200, 1_000).catch(() => false))) {
      if (performance.now() > readyBy) throw new Error('the API did not answer /healthz within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const stamp = Date.now().toString(36);
    console.log(`API process on port ${port}; ${PHASE_SECONDS} s per phase, ${SENDERS} senders; events of ${EVENT_LIMIT_BYTES / 1024} KB with ${MAX_EVENT_VALUES} values`);
    const idle = report(await runPhase('idle (baseline)', port, undefined));
    const atLimits = eventsAtLimits();
    const oversized = oversizedEvents();
    const unmatched = report(await runPhase(`events at the limits (${EVENT_LIMIT_BYTES / 1024} KB, ${MAX_EVENT_VALUES} values)`, port, (i) => atLimits(`evt_${stamp}_${i}`)));
    await createFilteringTriggers(port, FILTERING_TRIGGERS);
    const filtered = report(await runPhase(`same, ${FILTERING_TRIGGERS} triggers filtering the data`, port, (i) => atLimits(`evt_${stamp}_f_${i}`)));
    const refused = report(await runPhase('1 MB events (refused by the limit)', port, (i) => oversized(`evt_${stamp}_big_${i}`)));
    printBenchResult({ bench: 'api', phaseSeconds: PHASE_SECONDS, idle, loaded: [unmatched, filtered, refused] });
  } finally {
    api.kill('SIGTERM');
    await new Promise((resolve) => api.once('exit', resolve));
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:api: ${(error as Error).message}`);
  process.exit(1);
});
