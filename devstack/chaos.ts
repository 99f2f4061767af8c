// `npm run chaos -- [--seed N] [--minutes M] [--purchases N] [--kills N] [--window S] [--keep-data]`:
// a seeded fault-injection run. It starts a throwaway stack (FerretDB,
// Temporal on a SQLite file, MailDev with a mail folder, two APIs, two
// workers) on free ports with its data in a temporary folder, sends a mixed
// load of top-up purchases through both APIs while it kills processes with
// SIGKILL and restarts them at moments the seed chooses, lets everything
// settle, and checks the invariants (chaos-invariants.ts). It prints one
// summary line; exit 0 when every invariant holds, 1 when one fails (the
// seed and each violation are printed), 2 when the run itself could not be
// carried out, 130 when interrupted. Everything it started is stopped on
// every way out; the data folder is kept when the run did not pass.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RetryingClient } from './chaos-client';
import { runKills, type KillRecord } from './chaos-faults';
import { judge, VIOLATION_CODES, type Verdict } from './chaos-invariants';
import { LoadRunner } from './chaos-load';
import { observe, openRuns, runningFirings, verifyLedger, type ObserveContext } from './chaos-observe';
import { CHAOS_USAGE, parseChaosOptions, type ChaosOptions } from './chaos-options';
import { KILL_KINDS, planChaos } from './chaos-plan';
import type { PurchaseRecord } from './chaos-records';
import { ChaosStack } from './chaos-stack';
import { installTriggers, pauseHeartbeat } from './chaos-triggers';
import { DevstackError } from './devstack-error';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- plain CommonJS shared with bootstrap.cjs
const { onParentExit } = require('./parent-watch.cjs') as { onParentExit: (handler: () => void) => void };

/** Settling waits at least this long for open runs to close and the facts to hold (a held cancellation's run may wait 1 minute for its cancel request). */
const MIN_SETTLE_MS = 240_000;
const SETTLE_POLL_MS = 5_000;
/** Looks in a row with no run open and the same violations, after which waiting longer changes nothing. */
const STABLE_LOOKS = 3;
const PROGRESS_EVERY_MS = 15_000;
/** Violations printed per code; the rest are counted. */
const SHOWN_PER_CODE = 10;

const EXIT = { passed: 0, violated: 1, notCarriedOut: 2, interrupted: 130 } as const;

function say(message: string): void {
  process.stderr.write(`chaos | ${message}\n`);
}

async function main(args: readonly string[]): Promise<number> {
  const options = parseChaosOptions(args);
  if (!options) {
    process.stdout.write(`${CHAOS_USAGE}\n`);
    return EXIT.passed;
  }
  const plan = planChaos(options);
  say(`seed=${options.seed}: ${options.purchases} purchases over ${options.loadMs / 1000} s, ${plan.kills.length} kills (${countBy(plan.kills.map((kill) => kill.kind), KILL_KINDS)}), a ${options.windowSeconds} s cancellation window`);
  say(`replay with: npm run chaos -- --seed ${options.seed}${replayFlags(args)}`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'creditflow-chaos-'));
  const startedAt = Date.now();
  let stack: ChaosStack | undefined;
  let interrupted = false;
  const interrupt = (signal: string) => {
    if (interrupted) return;
    interrupted = true;
    say(`${signal}: stopping everything`);
    void (stack?.stop() ?? Promise.resolve()).then(() => {
      say(`stopped; data kept in ${dataDir}`);
      process.exit(EXIT.interrupted);
    });
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => interrupt(signal));
  onParentExit(() => interrupt('parent gone'));

  let exitCode: number = EXIT.notCarriedOut;
  try {
    say(`starting FerretDB, Temporal, MailDev, 2 APIs and 2 workers (data and logs in ${dataDir})`);
    stack = await ChaosStack.start(dataDir, say);
    say(`stack ready in ${seconds(Date.now() - startedAt)} s: APIs ${stack.endpoints.apiUrls.join(', ')}, MailDev ${stack.endpoints.maildevUrl}`);
    exitCode = await playAndJudge(options, plan, stack, startedAt, () => interrupted);
  } catch (error) {
    say(`the run could not be carried out (seed=${options.seed}): ${(error as Error).message}`);
    exitCode = EXIT.notCarriedOut;
  } finally {
    if (!interrupted) {
      await stack?.stop();
      if (exitCode === EXIT.passed && !options.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
      else say(`data and logs kept in ${dataDir}`);
    }
  }
  return exitCode;
}

async function playAndJudge(options: ChaosOptions, plan: ReturnType<typeof planChaos>, stack: ChaosStack, startedAt: number, isInterrupted: () => boolean): Promise<number> {
  const { endpoints } = stack;
  const client = new RetryingClient(endpoints.apiUrls, endpoints.adminKey);
  try {
    const triggers = await installTriggers(endpoints.apiUrls[0]!, endpoints.adminKey, client, options.windowSeconds);
    say(`triggers: top-up ${triggers.topUpId}, loyalty ${triggers.loyaltyId}, heartbeat ${triggers.heartbeatId}`);
    const loadStart = Date.now();
    const load = new LoadRunner(client, triggers.topUpId);
    const progress = setInterval(() => say(`t+${seconds(Date.now() - loadStart)} s: ${load.finished}/${plan.purchases.length} purchases played; retried ${describeRetries(client.retries)}`), PROGRESS_EVERY_MS);
    let records: PurchaseRecord[];
    let kills: KillRecord[];
    try {
      [records, kills] = await Promise.all([load.run(plan.purchases, loadStart), runKills(plan.kills, stack, loadStart, say, isInterrupted)]);
    } finally {
      clearInterval(progress);
    }
    const loadMs = Date.now() - loadStart;
    writeRunRecord(stack.dataDir, options, kills, records);
    say(`load and kills done in ${seconds(loadMs)} s; settling`);
    await pauseHeartbeat(client, triggers.heartbeatId);
    const settleStart = Date.now();
    const context: ObserveContext = {
      client, maildevUrl: endpoints.maildevUrl, mongodbUri: endpoints.mongodbUri, windowMs: options.windowSeconds * 1000, heartbeatId: triggers.heartbeatId,
      mailDevKills: kills.filter((kill) => kill.kind === 'maildev').map((kill) => kill.killedAt),
    };
    const verdict = await settleAndJudge(records, context, Math.max(MIN_SETTLE_MS, options.windowSeconds * 1000 + 120_000));
    const settleMs = Date.now() - settleStart;
    printViolations(verdict);
    process.stdout.write(`${summaryLine(options.seed, verdict, kills, stack.unplannedExits.length, Date.now() - startedAt)}\n`);
    say(`timings: stack start ${seconds(loadStart - startedAt)} s, load and kills ${seconds(loadMs)} s, settling and checks ${seconds(settleMs)} s; client retries: ${describeRetries(client.retries)}; slowest answer ${seconds(client.slowest.ms)} s (${client.slowest.request})`);
    for (const exit of stack.unplannedExits) say(`unplanned exit: ${exit.name} (${exit.exit}) at t+${seconds(exit.atMs)} s; its last output:\n${exit.lastOutput}`);
    if (verdict.violations.length === 0) return EXIT.passed;
    const codes = [...new Set(verdict.violations.map((violation) => violation.code))];
    say(`FAILED: seed=${options.seed} violated ${codes.join(', ')}`);
    return EXIT.violated;
  } finally {
    client.close();
  }
}

/**
 * Waits until no run is open, then judges; while something fails (a balance
 * event not yet delivered, a run that just closed) it looks again, until the
 * bound. ledger:verify runs once, on the final look.
 */
async function settleAndJudge(records: readonly PurchaseRecord[], context: ObserveContext, settleMs: number): Promise<Verdict> {
  const deadline = Date.now() + settleMs;
  const pending = { clean: true, report: 'not run yet' };
  let lastSignature = '';
  let sameLooks = 0;
  for (;;) {
    // A firing whose worker was killed resumes once Temporal notices its missed heartbeat (workflows/scheduled-firing.ts).
    const open = [...await openRuns(context.client), ...await runningFirings(context.client, context.heartbeatId)];
    const last = Date.now() >= deadline;
    if (open.length === 0 || last) {
      const verdict = judge(await observe(records, context, pending));
      const signature = verdict.violations.map((v) => `${v.code}:${v.subject}`).sort().join('\n');
      sameLooks = signature === lastSignature ? sameLooks + 1 : 1;
      lastSignature = signature;
      if (verdict.violations.length === 0 || last || sameLooks >= STABLE_LOOKS) {
        const ledgerVerify = await verifyLedger(context.mongodbUri);
        say(`${ledgerVerify.report.split('\n').at(-1)}`);
        return judge(await observe(records, context, ledgerVerify));
      }
      say(`no run open, but ${verdict.violations.length} checks fail yet (${[...new Set(verdict.violations.map((v) => v.code))].join(', ')}); looking again`);
    } else {
      say(`${open.length} runs or firings still open`);
    }
    await sleep(SETTLE_POLL_MS);
  }
}

/** What the client sent and was answered, and when each kill happened, for tracing a violation in the logs beside it. */
function writeRunRecord(dataDir: string, options: ChaosOptions, kills: readonly KillRecord[], records: readonly PurchaseRecord[]): void {
  const iso = (ms: number) => new Date(ms).toISOString();
  const run = {
    options,
    kills: kills.map((kill) => ({ ...kill, killedAt: iso(kill.killedAt) })),
    purchases: records.map((record) => ({
      ...record,
      purchasePosts: record.purchasePosts.map((post) => ({ ...post, sentAt: iso(post.sentAt), answeredAt: iso(post.answeredAt) })),
      cancelPosts: record.cancelPosts.map((post) => ({ ...post, sentAt: iso(post.sentAt), answeredAt: iso(post.answeredAt) })),
    })),
  };
  fs.writeFileSync(path.join(dataDir, 'chaos-run.json'), `${JSON.stringify(run, null, 2)}\n`);
}

function printViolations(verdict: Verdict): void {
  for (const code of VIOLATION_CODES) {
    const found = verdict.violations.filter((violation) => violation.code === code);
    if (found.length === 0) continue;
    say(`${code}: ${found.length}`);
    for (const violation of found.slice(0, SHOWN_PER_CODE)) say(`  ${violation.subject}: ${violation.detail}`);
    if (found.length > SHOWN_PER_CODE) say(`  ... and ${found.length - SHOWN_PER_CODE} more`);
  }
}

/** The one line a run ends with, e.g. `chaos seed=42: 200 purchases (40 cancelled, ...), ..., 12 kills (...)`. */
export function summaryLine(seed: number, verdict: Verdict, kills: readonly KillRecord[], unplannedExits: number, totalMs: number): string {
  const c = verdict.counts;
  const ledger = verdict.violations.some((violation) => violation.code === 'ledger_broken') ? 'ledger:verify BROKEN' : 'ledger:verify clean';
  const failed = verdict.violations.length === 0 ? 'all invariants hold' : `${verdict.violations.length} violations`;
  const mailDev = c.lostByMailDev > 0 ? ` (+${c.lostByMailDev} lost by MailDev's own kill)` : '';
  return `chaos seed=${seed}: ${c.purchases} purchases (${c.cancelled} cancelled, ${c.withoutPackage} without a package), ${c.creditedOnce} credited once, ${c.emailedOnce} emailed once${mailDev}, `
    + `${c.double} double, ${c.lost} lost, ${c.stuck} stuck, ${c.wrong} wrong, loyalty ${c.loyaltyOnce}/${c.loyaltyExpected} once, ${c.firings} heartbeat firings, ${ledger}, `
    + `${kills.length} kills (${countBy(kills.map((kill) => kill.kind), KILL_KINDS)}), ${unplannedExits} unplanned exits, ${seconds(totalMs)} s: ${failed}`;
}

function countBy(values: readonly string[], order: readonly string[]): string {
  return order.map((key) => `${values.filter((value) => value === key).length} ${key}`).join(', ');
}

function describeRetries(retries: ReadonlyMap<string, number>): string {
  if (retries.size === 0) return 'nothing';
  return [...retries].map(([cause, count]) => `${count}x ${cause}`).join(', ');
}

/** The options that shape the plan besides the seed, for the replay line. */
function replayFlags(args: readonly string[]): string {
  const flags: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (arg.startsWith('--seed')) {
      if (!arg.includes('=')) i += 1;
      continue;
    }
    flags.push(arg);
  }
  return flags.length > 0 ? ` ${flags.join(' ')}` : '';
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (exitCode) => process.exit(exitCode),
    (error: unknown) => {
      say(error instanceof DevstackError ? `error: ${error.message}` : `error: ${(error as Error).stack ?? String(error)}`);
      process.exit(EXIT.notCarriedOut);
    },
  );
}
