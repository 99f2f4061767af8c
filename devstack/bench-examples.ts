// `npm run bench:examples [runs] [concurrency] [rounds]`: the shipped
// examples whose triggers react to a client's event, each driven through the
// API at `concurrency` in flight as bench:e2e drives the documented top-up,
// beside the same baseline (a bare workflow with three no-op activities) in
// the same run: runs/s to each run's end, its ratio to the baseline's, the
// latency from POST to the run's result, and CPU per run by process. The
// figures of issue 17 must hold for these too, not only for the top-up's
// event shape.
//
// Each example is applied as `creditflow apply examples/<name>` would (its
// window set to 0 s, as bench:e2e sets the top-up's), and its sample event
// is sent with its ids made unique per run, so every run is a new purchase
// by a new owner, as in bench:e2e. What a run needs beforehand is set up
// before the rounds and not timed: funds for pay-from-balance's users and
// the partner's master wallet, dealers in the dealers group. Every run must
// end completed with no failed task, or the benchmark stops: a figure of
// failing runs would measure nothing. A phase ends once the balance pump
// has handed over the balance events of its postings, so that work counts
// where it belongs. Rounds alternate the order (baseline, each example;
// then the reverse), so a host whose speed drifts moves all alike. The last
// stdout line is the BENCH_RESULT line `npm run bench` reads.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { applyAll, loadResources } from '../cli/apply';
import type { RunState } from '../workflows/types';
import { printBenchResult } from './bench-result';
import { BENCH_ADMIN_KEY, baselineRun, combine, CpuTally, drive, percentile, rateOf, startBenchStack, StoreProfile, type BenchStack, type Phase } from './bench-stack';
import { EXAMPLES_WARM_UP_RUNS, warmUpRuns } from './bench-warm-up';
import { adminApi, WebhookReceiver } from './demo-seed';
import { REPO_DIR } from './paths';

const RUNS = Number(process.argv[2] ?? 200);
const CONCURRENCY = Number(process.argv[3] ?? 16);
const ROUNDS = Number(process.argv[4] ?? 2);
/** BENCH_PROFILE_STORE=1 prints each example's store commands per run, by command and collection. */
const PROFILE_STORE = process.env.BENCH_PROFILE_STORE === '1';
/** Untimed runs of each kind before the rounds (BENCH_WARMUP_RUNS; see warmUpRuns): bundling, the JIT's compiling, pools and the sandbox's processes do not count. */
const WARM_UP_RUNS = warmUpRuns(EXAMPLES_WARM_UP_RUNS);

/** What the setup of an example hands its runs. */
interface Setup {
  /** Sample strings replaced in every run's event (beside the per-run ids). */
  replacements?: Record<string, string>;
  /** Stops what the setup started (a webhook receiver), once the benchmark ends. */
  stop?(): Promise<void>;
}

interface ExampleBench {
  /** Its folder under examples/. */
  name: string;
  /** The path its runs take, in words. */
  path: string;
  /** The sample event sent, in the example's folder. */
  event: string;
  /** The sample's ids, each made unique per example and run (`<id>_x<example>_<run>`; an email address gets `+x<example>_<run>`), so no two runs share an owner. */
  ids: string[];
  /** Which of `ids` names the account owner. */
  owner: string;
  /** What runs 0 .. runs-1 need before they are sent. */
  prepare?(bench: BenchStack, runs: number, ownerOf: (run: number) => string): Promise<Setup>;
}

const MAX_ADJUSTMENT_ITEMS = 1_000;

/** Credits each owner `amount` USD through POST /v1/adjustments, a thousand at a time. */
async function fund(bench: BenchStack, owners: string[], amount: number, key: string): Promise<void> {
  for (let start = 0; start < owners.length; start += MAX_ADJUSTMENT_ITEMS) {
    const items = owners.slice(start, start + MAX_ADJUSTMENT_ITEMS).map((ownerId) => ({ ownerId, unit: 'USD', direction: 'credit', amount, idempotencyKey: `${key}:${ownerId}`, createIfMissing: true }));
    const answer = await bench.http.call<{ refused?: number }>('POST', '/v1/adjustments', { comment: 'bench:examples funds', items });
    if (answer.status !== 200 || answer.body.refused !== 0) throw new Error(`funding ${items.length} owners answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 500)}`);
  }
}

const EXAMPLES: readonly ExampleBench[] = [
  {
    name: 'account-top-up', path: 'script, credit (new account), bundled email template', event: 'purchase.event.json',
    ids: ['evt_example_purchase_1', 'res_example_1', 'user_42', 'ada@example.com'], owner: 'user_42',
  },
  {
    name: 'package-top-up', path: 'package chosen at match, credit (new account), inline email', event: 'purchase.event.json',
    ids: ['evt_example_package_1', 'res_example_package_1', 'user_42', 'ada@example.com'], owner: 'user_42',
  },
  {
    name: 'pay-from-balance', path: 'debit (funded account), script, inline email', event: 'purchase.event.json',
    ids: ['evt_example_pay_1', 'res_example_pay_1', 'user_42', 'ada@example.com'], owner: 'user_42',
    prepare: async (bench, runs, ownerOf) => {
      await fund(bench, Array.from({ length: runs }, (_, run) => ownerOf(run)), 10_000, 'bench-pay');
      return {};
    },
  },
  {
    name: 'dealer-credit-terms', path: 'debit into a group\'s negative limit (customer in a group)', event: 'listing.event.json',
    ids: ['evt_listing_2001', 'lst_2001', 'dealer_17'], owner: 'dealer_17',
    prepare: async (bench, runs, ownerOf) => {
      await drive(runs, CONCURRENCY, async (run) => {
        const answer = await bench.http.call('PUT', `/v1/customers/${ownerOf(run)}`, { name: `Dealer ${run}`, groupId: 'dealers' });
        if (answer.status !== 200 && answer.status !== 201) throw new Error(`PUT /v1/customers/${ownerOf(run)} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
        return 0;
      });
      return {};
    },
  },
  {
    name: 'partner-wallet', path: 'transfer from one shared master wallet, signed webhook', event: 'topup.event.json',
    ids: ['evt_example_topup_1', 'top_example_1', 'cust_17'], owner: 'cust_17',
    prepare: async (bench, runs) => {
      await fund(bench, ['partner_master'], 2_500 * runs, `bench-partner-${runs}`);
      const receiver = await WebhookReceiver.start();
      return { replacements: { 'https://partner.example.com/hooks/topups': receiver.url('/hooks/topups') }, stop: () => receiver.stop() };
    },
  },
];

/** `id` made unique for run `run` of the example at `index` (see ExampleBench.ids). */
function uniqueId(id: string, index: number, run: number): string {
  return id.includes('@') ? id.replace('@', `+x${index}_${run}@`) : `${id}_x${index}_${run}`;
}

/** An example ready to run: its place in EXAMPLES, its sample event's text, and what its setup gave. */
interface Prepared {
  example: ExampleBench;
  index: number;
  sample: string;
  setup: Setup;
  /** The number of its next run. */
  next: number;
}

/** The example's sample event with every id (and the setup's replacements) replaced for run `run`. */
function eventFor(entry: Prepared, run: number): unknown {
  let text = entry.sample;
  for (const id of entry.example.ids) text = text.split(id).join(uniqueId(id, entry.index, run));
  for (const [from, to] of Object.entries(entry.setup.replacements ?? {})) text = text.split(from).join(to);
  return JSON.parse(text) as unknown;
}

/** One run of an example: POST its event, await the run's result; the latency from POST to result. */
async function runOnce(bench: BenchStack, event: unknown): Promise<number> {
  const started = performance.now();
  const accepted = await bench.http.call<{ runs?: Array<{ workflowId: string }> }>('POST', '/v1/events', event);
  const runs = accepted.body.runs ?? [];
  if (accepted.status !== 202) throw new Error(`POST /v1/events answered ${accepted.status}: ${JSON.stringify(accepted.body)}`);
  if (runs.length !== 1) throw new Error(`POST /v1/events started ${runs.length} runs, expected 1: ${JSON.stringify(accepted.body)}`);
  const workflowId = runs[0]!.workflowId;
  const state = await bench.client.workflow.getHandle(workflowId).result() as RunState;
  const failed = state.tasks.filter((task) => task.status === 'failed');
  if (state.phase !== 'completed' || failed.length > 0) throw new Error(`run ${workflowId} ended ${state.phase}: ${JSON.stringify(failed.length > 0 ? failed : state)}`);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const bench = await startBenchStack({ webhookAllowedHosts: '127.0.0.1', monitorCommands: PROFILE_STORE });
  const storeProfile = PROFILE_STORE ? new StoreProfile(bench.store) : undefined;
  const prepared: Prepared[] = [];
  try {
    const perRound = Math.max(1, Math.floor(RUNS / ROUNDS));
    const total = WARM_UP_RUNS + perRound * ROUNDS;
    const cli = adminApi(bench.apiUrl, BENCH_ADMIN_KEY);
    const cpu = new CpuTally();
    console.log(`${perRound * ROUNDS} runs of each example and of the baseline in ${ROUNDS} alternating rounds after ${WARM_UP_RUNS} warm-up runs of each, ${CONCURRENCY} in flight; one API, one worker, Temporal dev server (in memory), FerretDB on SQLite, MailDev; node ${process.version}\n`);

    for (const [index, example] of EXAMPLES.entries()) {
      const folder = path.join('examples', example.name);
      // A window would hold every run for its length: 0 s, as bench:e2e gives the documented top-up.
      const resources = loadResources(REPO_DIR, [folder]).map((resource) => (resource.kind === 'trigger' && 'wait' in resource.body ? { ...resource, body: { ...resource.body, wait: { seconds: 0 } } } : resource));
      const outcome = await applyAll(cli, resources);
      if (outcome.failure) throw outcome.failure.error;
      const sample = readFileSync(path.join(REPO_DIR, folder, example.event), 'utf8');
      const setup = (await example.prepare?.(bench, total, (run) => uniqueId(example.owner, index, run))) ?? {};
      prepared.push({ example, index, sample, setup, next: 0 });
    }
    // A phase ends once the pump has handed over its postings' balance events, so that work is the example's.
    const phaseOf = (entry: Prepared, count: number) => drive(count, CONCURRENCY, () => runOnce(bench, eventFor(entry, entry.next++)), bench.balanceEventsDelivered);
    let baselineRuns = 0;
    const baselinePhase = (count: number) => drive(count, CONCURRENCY, () => baselineRun(bench.client, `baseline-${(baselineRuns += 1)}`));

    await baselinePhase(WARM_UP_RUNS);
    for (const entry of prepared) await phaseOf(entry, WARM_UP_RUNS);

    const phases = new Map<string, Phase[]>();
    const kinds = ['baseline', ...prepared.map((entry) => entry.example.name)];
    for (let round = 0; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? kinds : [...kinds].reverse();
      for (const kind of order) {
        const entry = prepared.find((one) => one.example.name === kind);
        storeProfile?.label(kind);
        const phase = await cpu.counted(kind, () => (entry ? phaseOf(entry, perRound) : baselinePhase(perRound)));
        storeProfile?.label(undefined);
        phases.set(kind, [...(phases.get(kind) ?? []), phase]);
      }
      console.log(`  round ${round + 1}: ${kinds.map((kind) => `${kind} ${rateOf(phases.get(kind)![round]!).toFixed(1)}`).join(', ')} runs/s`);
    }

    const runs = perRound * ROUNDS;
    const figures = kinds.map((kind) => {
      const all = combine(phases.get(kind)!);
      const { total: cpuMs, processes } = cpu.perRun(kind, runs);
      return { name: kind, runsPerS: rateOf(all), p50Ms: percentile(all.latenciesMs, 50), p99Ms: percentile(all.latenciesMs, 99), cpuMsPerRun: cpuMs, processes };
    });
    const baseline = figures[0]!;
    console.log(`\n${'runs to their end'.padEnd(22)} ${'runs/s'.padStart(7)} ${'ratio'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'CPU/run'.padStart(8)}  path`);
    for (const figure of figures) {
      const example = EXAMPLES.find((one) => one.name === figure.name);
      console.log(`${figure.name.padEnd(22)} ${figure.runsPerS.toFixed(1).padStart(7)} ${`${(figure.runsPerS / baseline.runsPerS).toFixed(2)}x`.padStart(6)} ${figure.p50Ms.toFixed(0).padStart(7)} ${figure.p99Ms.toFixed(0).padStart(7)} ${figure.cpuMsPerRun.toFixed(1).padStart(8)}  ${example?.path ?? 'workflow + 3 no-op activities, start to result'}`);
    }
    console.log('\nCPU per run (ms, from /proc), by process:');
    for (const figure of figures) console.log(`  ${figure.name.padEnd(20)} ${figure.processes.map(([name, ms]) => `${name} ${ms.toFixed(1)}`).join(', ')}`);
    if (storeProfile) {
      for (const entry of prepared) {
        console.log(`\nstore commands of ${entry.example.name}:`);
        storeProfile.print(entry.example.name, runs);
      }
    }
    printBenchResult({
      bench: 'examples', runs, concurrency: CONCURRENCY,
      baselineRunsPerS: baseline.runsPerS, baselineP50Ms: baseline.p50Ms, baselineP99Ms: baseline.p99Ms,
      examples: figures.slice(1).map(({ name, runsPerS, p50Ms, p99Ms, cpuMsPerRun }) => ({ name, runsPerS, p50Ms, p99Ms, cpuMsPerRun })),
    });
  } finally {
    for (const { setup } of prepared) await setup.stop?.().catch(() => undefined);
    await bench.stop();
  }
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
