// Benchmark for the documented script (api-v1.md, `script` task): per-run
// latency and throughput of the sandbox (also with burst polling off), of a
// fresh node:vm context per run (the per-run isolation baseline to beat), and
// of a plain function call (the floor). The variants take turns in blocks, so
// a machine that speeds up or slows down during the run moves them all alike
// and the ratios compare like with like. Run with `npm run bench:sandbox`;
// the last stdout line is the BENCH_RESULT line `npm run bench` reads.
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
/** The timed runs of each variant are split into this many blocks, taken in turn with the other variants' blocks. */
const BLOCKS = 20;
/** Untimed runs at the start of every block. */
const BLOCK_WARMUP_RUNS = 10;

function inputFor(priceInt: number): ScriptInput {
  return { event: { type: 'request.created', data: { reservation: { id: 'r-1', price_int: priceInt, user: { id: 'u-1' } } } } };
}

interface Stats {
  p50Us: number;
  p99Us: number;
  runsPerSecond: number;
}

/** One contender: what one run is, and how many of its runs go in a block. */
interface Variant {
  warmupRuns: number;
  runsPerBlock: number;
  once: (i: number) => Promise<unknown> | unknown;
}

/** Times `runs` runs of `once`, one after another, into `samplesUs`; returns the milliseconds they took. */
async function timeRuns(runs: number, once: Variant['once'], samplesUs: number[]): Promise<number> {
  const startedMs = performance.now();
  for (let i = 0; i < runs; i++) {
    const before = performance.now();
    await once(i);
    samplesUs.push((performance.now() - before) * 1_000);
  }
  return performance.now() - startedMs;
}

/**
 * Warms every variant up, then times them in BLOCKS rounds: each round runs
 * one block of every variant, starting with a different one each round.
 */
async function measureInTurns(variants: readonly Variant[]): Promise<Stats[]> {
  for (const variant of variants) await timeRuns(variant.warmupRuns, variant.once, []);
  const samples = variants.map(() => [] as number[]);
  const totalsMs = variants.map(() => 0);
  for (let block = 0; block < BLOCKS; block++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (block + k) % variants.length;
      const variant = variants[index]!;
      // Each block starts on a collected heap (with --expose-gc), so no block pays for the garbage of the one before (fresh contexts leave much),
      // and with a few untimed runs, so none pays for the caches the one before left cold.
      global.gc?.();
      await timeRuns(BLOCK_WARMUP_RUNS, variant.once, []);
      totalsMs[index]! += await timeRuns(variant.runsPerBlock, variant.once, samples[index]!);
    }
  }
  return samples.map((samplesUs, index) => {
    samplesUs.sort((a, b) => a - b);
    const at = (q: number): number => samplesUs[Math.min(samplesUs.length - 1, Math.floor(samplesUs.length * q))] ?? Number.NaN;
    return { p50Us: at(0.5), p99Us: at(0.99), runsPerSecond: (samplesUs.length / totalsMs[index]!) * 1_000 };
  });
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

/** One documented run in a sandbox, its output checked. */
function sandboxRun(sandbox: Sandbox, priceFor: (i: number) => number): Variant['once'] {
  return async (i) => {
    const result = await sandbox.run({ code: DOCUMENTED_SCRIPT, input: inputFor(priceFor(i)) });
    if (!result.ok) throw new Error(`documented script failed: ${result.error.code} ${result.error.message}`);
    expectDocumentedOutput(result.output, priceFor(i));
  };
}

/** This process's RSS before and after `RUNS` more runs of `once`, each read after a forced collection when node runs with --expose-gc. */
async function rssAcross(once: Variant['once']): Promise<{ beforeMb: number; afterMb: number }> {
  global.gc?.();
  const beforeMb = rssMb();
  await timeRuns(RUNS, once, []);
  global.gc?.();
  return { beforeMb, afterMb: rssMb() };
}

async function main(): Promise<void> {
  const priceFor = (i: number): number => (i % 2 === 0 ? 5000 : 10000);
  const sandbox = createSandbox();
  // The same sandbox parking between runs instead of polling (burstPollUs 0), for comparison.
  const parkingSandbox = createSandbox({ burstPollUs: 0 });
  const inProcessSandbox = createInProcessSandbox();

  // Baseline: a fresh node:vm context per run, the usual way to isolate runs.
  const vmScript = new vm.Script(`(function (event, data, reservation) {\n${DOCUMENTED_SCRIPT}\n})`);
  const runFreshContext = (i: number): void => {
    const context = vm.createContext({});
    const fn = vmScript.runInContext(context) as (event: unknown, data: unknown, reservation: unknown) => unknown;
    const input = JSON.parse(JSON.stringify(inputFor(priceFor(i)))) as { event: { data: { reservation: unknown } } };
    const output: unknown = JSON.parse(JSON.stringify(fn(input.event, input.event.data, input.event.data.reservation)));
    expectDocumentedOutput(output, priceFor(i));
  };

  // Floor: the same logic as a plain function in the host, no isolation.
  const plain = new Function('event', 'data', 'reservation', DOCUMENTED_SCRIPT) as (event: unknown, data: unknown, reservation: unknown) => unknown;
  const runPlain = (i: number): void => {
    const input = inputFor(priceFor(i)) as { event: { data: { reservation: unknown } } };
    expectDocumentedOutput(plain(input.event, input.event.data, input.event.data.reservation), priceFor(i));
  };

  const sandboxRuns = { warmupRuns: WARMUP_RUNS, runsPerBlock: RUNS / BLOCKS };
  const [sandboxStats, parkingStats, inProcessStats, vmStats, plainStats] = await measureInTurns([
    { ...sandboxRuns, once: sandboxRun(sandbox, priceFor) },
    { ...sandboxRuns, once: sandboxRun(parkingSandbox, priceFor) },
    { ...sandboxRuns, once: sandboxRun(inProcessSandbox, priceFor) },
    { warmupRuns: WARMUP_RUNS / 5, runsPerBlock: RUNS / 5 / BLOCKS, once: runFreshContext },
    { ...sandboxRuns, once: runPlain },
  ]) as [Stats, Stats, Stats, Stats, Stats];
  parkingSandbox.dispose();

  // Memory, apart from the timing: the worker's RSS across child-process runs, then across in-process ones (their isolates counted).
  const supervised = await rssAcross(sandboxRun(sandbox, priceFor));
  sandbox.dispose();
  const inProcess = await rssAcross(sandboxRun(inProcessSandbox, priceFor));
  inProcessSandbox.dispose();

  console.log(`documented script, node ${process.version}, ${RUNS} runs of each sandbox (${RUNS / 5} fresh-context runs) in ${BLOCKS} blocks taken in turn`);
  console.log(row('sandbox (child process, default)', sandboxStats));
  console.log(row('the same, parking between runs', parkingStats));
  console.log(row('sandbox isolates in this process', inProcessStats));
  console.log(row('fresh node:vm context per run', vmStats));
  console.log(row('plain function call', plainStats));
  console.log(`sandbox p50 is ${(vmStats.p50Us / sandboxStats.p50Us).toFixed(1)}x faster than a fresh node:vm context`);
  const note = global.gc ? '' : ' (run node with --expose-gc for settled figures)';
  console.log(`worker RSS before/after ${RUNS} more child-process runs: ${supervised.beforeMb.toFixed(1)} / ${supervised.afterMb.toFixed(1)} MB${note}`);
  console.log(`RSS before/after ${RUNS} more in-process runs (isolates counted): ${inProcess.beforeMb.toFixed(1)} / ${inProcess.afterMb.toFixed(1)} MB${note}`);
  printBenchResult({
    bench: 'sandbox', runs: RUNS,
    sandboxP50Us: sandboxStats.p50Us, sandboxP99Us: sandboxStats.p99Us, freshContextP50Us: vmStats.p50Us, freshContextP99Us: vmStats.p99Us,
    hostRssBeforeMb: supervised.beforeMb, hostRssAfterMb: supervised.afterMb, rssAfterGc: global.gc !== undefined,
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
