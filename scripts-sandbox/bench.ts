// Benchmark for the documented script (api-v1.md, `script` task): per-run
// latency and throughput of the sandbox (also with burst polling off), of a fresh node:vm context per run
// (the per-run isolation baseline to beat), and of a plain function call
// (the floor). Run with `npm run bench:sandbox`; the last stdout line is the
// BENCH_RESULT line `npm run bench` reads.
import vm from 'node:vm';
import { printBenchResult } from '../devstack/bench-result';
import { createInProcessSandbox } from './in-process-sandbox';
import { createSandbox } from './sandbox-pool';
import type { Sandbox } from './types';
import type { ScriptInput } from './types';

const DOCUMENTED_SCRIPT = [
  'let amount = 0;',
  'if (reservation.price_int === 5000) amount = 6000;',
  'if (reservation.price_int === 10000) amount = 15000;',
  "return { amount_cents: amount, vars: { DOLLARS: '$' + Math.trunc(amount / 100) } };",
].join('\n');
const RUNS = 10_000;
const WARMUP_RUNS = 500;

function inputFor(priceInt: number): ScriptInput {
  return { event: { type: 'request.created', data: { reservation: { id: 'r-1', price_int: priceInt, user: { id: 'u-1' } } } } };
}

interface Stats {
  p50Us: number;
  p99Us: number;
  runsPerSecond: number;
}

async function measure(runs: number, once: (i: number) => Promise<unknown> | unknown): Promise<Stats> {
  const samplesUs: number[] = [];
  const startedMs = performance.now();
  for (let i = 0; i < runs; i++) {
    const before = performance.now();
    await once(i);
    samplesUs.push((performance.now() - before) * 1_000);
  }
  const totalMs = performance.now() - startedMs;
  samplesUs.sort((a, b) => a - b);
  const at = (q: number): number => samplesUs[Math.min(samplesUs.length - 1, Math.floor(samplesUs.length * q))] ?? Number.NaN;
  return { p50Us: at(0.5), p99Us: at(0.99), runsPerSecond: (runs / totalMs) * 1_000 };
}

function expectDocumentedOutput(output: unknown, priceInt: number): void {
  const expected = priceInt === 5000 ? 6000 : 15000;
  const amount = (output as { amount_cents?: unknown } | null)?.amount_cents;
  if (amount !== expected) throw new Error(`documented script returned ${JSON.stringify(output)} for ${priceInt}`);
}

function rssMb(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

function row(name: string, stats: Stats): string {
  return `${name.padEnd(34)} p50 ${stats.p50Us.toFixed(1).padStart(7)} us   p99 ${stats.p99Us.toFixed(1).padStart(8)} us   ${Math.round(stats.runsPerSecond).toString().padStart(7)} runs/s`;
}

async function measureSandbox(sandbox: Sandbox, priceFor: (i: number) => number): Promise<{ stats: Stats; rssBeforeMb: number; rssAfterMb: number }> {
  const runSandbox = async (i: number): Promise<void> => {
    const result = await sandbox.run({ code: DOCUMENTED_SCRIPT, input: inputFor(priceFor(i)) });
    if (!result.ok) throw new Error(`documented script failed: ${result.error.code} ${result.error.message}`);
    expectDocumentedOutput(result.output, priceFor(i));
  };
  await measure(WARMUP_RUNS, runSandbox);
  global.gc?.();
  const rssBeforeMb = rssMb();
  const stats = await measure(RUNS, runSandbox);
  global.gc?.();
  return { stats, rssBeforeMb, rssAfterMb: rssMb() };
}

async function main(): Promise<void> {
  const priceFor = (i: number): number => (i % 2 === 0 ? 5000 : 10000);
  const sandbox = createSandbox();
  const supervised = await measureSandbox(sandbox, priceFor);
  sandbox.dispose();
  // The same sandbox parking between runs instead of polling (burstPollUs 0), for comparison.
  const parkingSandbox = createSandbox({ burstPollUs: 0 });
  const parking = await measureSandbox(parkingSandbox, priceFor);
  parkingSandbox.dispose();
  const inProcessSandbox = createInProcessSandbox();
  const inProcess = await measureSandbox(inProcessSandbox, priceFor);
  inProcessSandbox.dispose();
  const sandboxStats = supervised.stats;

  // Baseline: a fresh node:vm context per run, the usual way to isolate runs.
  const vmScript = new vm.Script(`(function (event, data, reservation) {\n${DOCUMENTED_SCRIPT}\n})`);
  const runFreshContext = (i: number): void => {
    const context = vm.createContext({});
    const fn = vmScript.runInContext(context) as (event: unknown, data: unknown, reservation: unknown) => unknown;
    const input = JSON.parse(JSON.stringify(inputFor(priceFor(i)))) as { event: { data: { reservation: unknown } } };
    const output: unknown = JSON.parse(JSON.stringify(fn(input.event, input.event.data, input.event.data.reservation)));
    expectDocumentedOutput(output, priceFor(i));
  };
  await measure(WARMUP_RUNS / 5, runFreshContext);
  const vmStats = await measure(RUNS / 5, runFreshContext);

  // Floor: the same logic as a plain function in the host, no isolation.
  const plain = new Function('event', 'data', 'reservation', DOCUMENTED_SCRIPT) as (event: unknown, data: unknown, reservation: unknown) => unknown;
  const runPlain = (i: number): void => {
    const input = inputFor(priceFor(i)) as { event: { data: { reservation: unknown } } };
    expectDocumentedOutput(plain(input.event, input.event.data, input.event.data.reservation), priceFor(i));
  };
  await measure(WARMUP_RUNS, runPlain);
  const plainStats = await measure(RUNS, runPlain);

  console.log(`documented script, node ${process.version}, ${RUNS} sandbox runs (${RUNS / 5} fresh-context runs)`);
  console.log(row('sandbox (child process, default)', sandboxStats));
  console.log(row('the same, parking between runs', parking.stats));
  console.log(row('sandbox isolates in this process', inProcess.stats));
  console.log(row('fresh node:vm context per run', vmStats));
  console.log(row('plain function call', plainStats));
  console.log(`sandbox p50 is ${(vmStats.p50Us / sandboxStats.p50Us).toFixed(1)}x faster than a fresh node:vm context`);
  const note = global.gc ? '' : ' (run node with --expose-gc for settled figures)';
  console.log(`worker RSS before/after ${RUNS} child-process runs: ${supervised.rssBeforeMb.toFixed(1)} / ${supervised.rssAfterMb.toFixed(1)} MB${note}`);
  console.log(`RSS before/after ${RUNS} in-process runs (isolates counted): ${inProcess.rssBeforeMb.toFixed(1)} / ${inProcess.rssAfterMb.toFixed(1)} MB${note}`);
  printBenchResult({
    bench: 'sandbox', runs: RUNS,
    sandboxP50Us: sandboxStats.p50Us, sandboxP99Us: sandboxStats.p99Us, freshContextP50Us: vmStats.p50Us, freshContextP99Us: vmStats.p99Us,
    hostRssBeforeMb: supervised.rssBeforeMb, hostRssAfterMb: supervised.rssAfterMb, rssAfterGc: global.gc !== undefined,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
