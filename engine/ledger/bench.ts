import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import { configSchema } from '../config';
import { LEDGER_MIN_SPREAD_RATIO } from '../../devstack/bench-goals';
import { printBenchResult } from '../../devstack/bench-result';
import { startTestStack } from '../../devstack/test-stack';
import { connectStore } from '../store';
import { createLedger, type Ledger, type PostRequest } from './index';

/**
 * Measures posting throughput and latency against the store in MONGODB_URI
 * (when unset, a FerretDB of its own, started on a free port and removed
 * afterwards), in a scratch database that is dropped afterwards.
 * BENCH_POSTINGS sets the postings per scenario (default 2,000; 100-100,000).
 * The last stdout line is the BENCH_RESULT line `npm run bench` reads.
 */
const benchEnv = z.object({
  MONGODB_URI: configSchema.shape.MONGODB_URI.unwrap().optional(),
  BENCH_POSTINGS: z.coerce.number().int().min(100).max(100_000).default(2_000),
});

const CONCURRENCY = 16;
const SPREAD_ACCOUNTS = 1_000;

interface Result { name: string; ops: number; seconds: number; latenciesMs: number[] }

function percentile(sortedMs: number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))] ?? 0;
}

/** Runs `count` operations with at most `concurrency` in flight, timing each. */
async function run(name: string, count: number, concurrency: number, operation: (i: number) => Promise<unknown>): Promise<Result> {
  const latenciesMs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next;
      next += 1;
      const t0 = performance.now();
      await operation(i);
      latenciesMs.push(performance.now() - t0);
    }
  }));
  return { name, ops: count, seconds: (performance.now() - started) / 1000, latenciesMs };
}

function report(result: Result): number {
  const sorted = [...result.latenciesMs].sort((a, b) => a - b);
  const rate = result.ops / result.seconds;
  const line = `${result.name.padEnd(38)} ${rate.toFixed(0).padStart(7)} /s   p50 ${percentile(sorted, 50).toFixed(2).padStart(7)} ms   p99 ${percentile(sorted, 99).toFixed(2).padStart(7)} ms`;
  process.stdout.write(`${line}\n`);
  return rate;
}

function posting(ownerId: string, i: number, tag: string): PostRequest {
  // Two credits then a debit, so balances only grow and nothing is refused.
  const direction = i % 3 === 2 ? 'debit' : 'credit';
  return { ownerId, unit: 'CREDIT', direction, amount: 1, idempotencyKey: `${tag}-${i}`, createIfMissing: true, source: { kind: 'api', keyId: 'bench' } };
}

async function scenarios(connection: Connection, ledger: Ledger, count: number): Promise<void> {
  const raw = connection.collection('bench_raw');
  await raw.insertOne({ warmup: true });
  const rawSequential = report(await run('raw insertOne, sequential', count, 1, (i) => raw.insertOne({ i, ownerId: 'raw', amount: 1, createdAt: new Date() })));
  const rawConcurrent = report(await run(`raw insertOne, ${CONCURRENCY} concurrent`, count, CONCURRENCY, (i) => raw.insertOne({ i, ownerId: 'raw', amount: 1, createdAt: new Date() })));

  await ledger.post(posting('hot', -3, 'warm'));
  const hotSequential = report(await run('post, one hot account, sequential', count, 1, (i) => ledger.post(posting('hot', i, 'seq'))));
  report(await run(`post, one hot account, ${CONCURRENCY} concurrent`, count, CONCURRENCY, (i) => ledger.post(posting('hot', i, 'con'))));

  // Accounts are opened first so the spread run measures postings, not account creation.
  await run('open accounts', SPREAD_ACCOUNTS, CONCURRENCY, (i) => ledger.post(posting(`acct-${i}`, 0, `open-${i}`)));
  // The machine is shared: the raw rate is measured again next to the spread run, and the ratio uses the mean.
  const rawAgain = report(await run(`raw insertOne, ${CONCURRENCY} concurrent (again)`, count, CONCURRENCY, (i) => raw.insertOne({ i, ownerId: 'raw', amount: 1, createdAt: new Date() })));
  const spread = report(await run(`post, ${SPREAD_ACCOUNTS} accounts spread, ${CONCURRENCY} concurrent`, count, CONCURRENCY, (i) => ledger.post(posting(`acct-${(i * 7919) % SPREAD_ACCOUNTS}`, i, 'spread'))));

  const rawMean = (rawConcurrent + rawAgain) / 2;
  process.stdout.write(`\nspread / raw insertOne (${CONCURRENCY} concurrent, mean of both raw runs): ${(spread / rawMean).toFixed(2)}x (target >= ${LEDGER_MIN_SPREAD_RATIO.toFixed(2)}x)\n`);
  process.stdout.write(`hot sequential / raw sequential: ${(hotSequential / rawSequential).toFixed(2)}x\n`);
  const verified = await ledger.verify();
  process.stdout.write(`verify: ${verified.accountsChecked} accounts, ${verified.entriesChecked} entries, ${verified.broken.length} broken\n`);
  if (verified.broken.length > 0) process.exitCode = 1;
  else printBenchResult({ bench: 'ledger', postings: count, accounts: SPREAD_ACCOUNTS, concurrency: CONCURRENCY, spreadPostingsPerS: spread, rawInsertsPerS: rawMean });
}

async function main(): Promise<void> {
  const parsed = benchEnv.safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== '')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    throw new Error(`${name}=${process.env[name] ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  const env = parsed.data;
  const dbName = `cf_bench_${randomBytes(4).toString('hex')}`;
  const stack = env.MONGODB_URI ? undefined : await startTestStack({}, { ferretdb: true, temporal: false, maildev: false });
  const uri = env.MONGODB_URI ?? stack!.env.MONGODB_URI;
  const connection = await connectStore(uri, { dbName }).catch(async (error: unknown) => {
    await stack?.stop();
    throw error;
  });
  process.stdout.write(`ledger bench: ${env.BENCH_POSTINGS} postings per scenario, Node ${process.version}, store ${stack ? 'a FerretDB of its own' : uri.replace(/\/\/[^@/]*@/, '//***@')} (db ${dbName})\n\n`);
  try {
    const ledger = createLedger({ connection });
    await ledger.ensureIndexes();
    await scenarios(connection, ledger, env.BENCH_POSTINGS);
  } finally {
    await connection.dropDatabase().catch(() => undefined);
    await connection.close();
    await stack?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:ledger: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
