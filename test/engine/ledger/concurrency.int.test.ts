import { spawn } from 'node:child_process';
import path from 'node:path';
import { createLedger, type Ledger, type PostRequest } from '../../../engine/ledger';
import { openTestStore } from '../../support/store';

const WORKER = path.join(__dirname, 'fixtures', 'post-worker.ts');
const api = { kind: 'api', keyId: 'test-key' } as const;

let store: Awaited<ReturnType<typeof openTestStore>>;
let ledger: Ledger;

/** Runs the worker in its own node process; resolves with its per-request outcomes and exit signal. */
function runWorker(requests: PostRequest[], crashAfterInsert = false): Promise<{ outcomes: Array<{ key: string; outcome: string }>; signal: NodeJS.Signals | null; code: number | null }> {
  const input = JSON.stringify({ uri: store.uri, dbName: store.dbName, requests, crashAfterInsert });
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, input], { cwd: path.resolve(__dirname, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0 && signal === null) reject(new Error(`worker exited ${code}: ${stderr}`));
      else resolve({ outcomes: stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { key: string; outcome: string }), signal, code });
    });
  });
}

function posting(ownerId: string, direction: 'credit' | 'debit', amount: number, idempotencyKey: string): PostRequest {
  return { ownerId, unit: 'USD', direction, amount, idempotencyKey, createIfMissing: true, source: api };
}

beforeAll(async () => {
  store = await openTestStore('ledger_concurrency');
  ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
});
afterAll(() => store.close());

it('keeps 100 parallel postings from three processes contiguous, summed, and never below minBalance', async () => {
  const owner = 'shared-wallet';
  await ledger.post(posting(owner, 'credit', 300, 'seed'));
  // 60 credits of 10 and 40 debits of 25 race from two child processes and this
  // one; debits beyond the balance must be refused, never overdraw it. Ten keys
  // are sent by two processes at once and must post once.
  const requests = Array.from({ length: 100 }, (_, i) => (i % 5 < 3 ? posting(owner, 'credit', 10, `c-${i}`) : posting(owner, 'debit', 25, `d-${i}`)));
  const duplicated = requests.slice(0, 10);
  const [a, b, here] = await Promise.all([
    runWorker([...requests.slice(0, 40), ...duplicated.slice(5)]),
    runWorker([...requests.slice(40, 80), ...duplicated.slice(0, 5)]),
    Promise.all(requests.slice(80).map(async (request) => ledger.post(request).then((r) => ({ key: request.idempotencyKey, outcome: r.replayed ? 'replayed' : 'posted' }), (error: { code: string }) => ({ key: request.idempotencyKey, outcome: error.code })))),
  ]);
  const outcomes = [...a.outcomes, ...b.outcomes, ...here];
  expect(outcomes).toHaveLength(110);
  expect(outcomes.every((o) => ['posted', 'replayed', 'insufficient_funds'].includes(o.outcome))).toBe(true);
  // 300 + 60 x 10 covers at most 36 debits of 25: at least four must have been refused.
  expect(outcomes.filter((o) => o.outcome === 'insufficient_funds').length).toBeGreaterThanOrEqual(4);

  const entries: Array<{ seq: number; amount: number; direction: string; balanceAfter: number; idempotencyKey: string }> = [];
  for (let cursor: string | undefined, page; (page = await ledger.listEntries(owner, 'USD', { limit: 200, ...(cursor ? { cursor } : {}) })); cursor = page.nextCursor) {
    entries.push(...page.items);
    if (!page.nextCursor) break;
  }
  const posted = new Set(outcomes.filter((o) => o.outcome !== 'insufficient_funds').map((o) => o.key));
  expect(entries.map((e) => e.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: posted.size + 1 }, (_, i) => i + 1));
  expect(new Set(entries.map((e) => e.idempotencyKey)).size).toBe(entries.length);
  const sum = entries.reduce((total, e) => total + (e.direction === 'credit' ? e.amount : -e.amount), 0);
  const account = await ledger.getAccount(owner, 'USD');
  expect(account?.balance).toBe(sum);
  expect(Math.min(...entries.map((e) => e.balanceAfter))).toBeGreaterThanOrEqual(0);
  expect((await ledger.verify()).broken).toEqual([]);
});

it('repairs a posting whose process was killed right after storing its entry, counting it once', async () => {
  const owner = 'crash-victim';
  // hintInterval 1: every completed posting updates the account document, so the missing update shows.
  await createLedger({ connection: store.connection, hintInterval: 1 }).post(posting(owner, 'credit', 100, 'crash-seed'));
  const killed = await runWorker([posting(owner, 'debit', 40, 'crash-debit')], true);
  expect(killed.signal).toBe('SIGKILL');
  expect(killed.outcomes).toEqual([]);

  // The entry is stored (the commit point); the account document never heard of it.
  const stored = await store.connection.collection('ledger_accounts').findOne({ _id: `USD:${owner}` as never });
  expect(stored).toMatchObject({ seq: 1, balance: 100 });

  // A fresh reader sees the posting and repairs the account; the caller's retry replays it.
  const fresh = createLedger({ connection: store.connection });
  expect(await fresh.getAccount(owner, 'USD')).toMatchObject({ seq: 2, balance: 60 });
  expect(await fresh.post(posting(owner, 'debit', 40, 'crash-debit'))).toMatchObject({ replayed: true, entry: { seq: 2, balanceAfter: 60 } });
  await fresh.post(posting(owner, 'debit', 60, 'after-crash'));
  expect(await fresh.post(posting(owner, 'debit', 1, 'one-too-many')).catch((error: { code: string }) => error.code)).toBe('insufficient_funds');
  expect((await fresh.verify()).broken).toEqual([]);
  expect(await fresh.getAccount(owner, 'USD')).toMatchObject({ seq: 3, balance: 0 });
});

it('lets the next posting, not only a reader, find the entry a killed process left behind', async () => {
  const owner = 'crash-then-post';
  await ledger.post(posting(owner, 'credit', 50, 'cp-seed'));
  expect((await runWorker([posting(owner, 'debit', 50, 'cp-debit')], true)).signal).toBe('SIGKILL');
  const fresh = createLedger({ connection: store.connection });
  expect(await fresh.post(posting(owner, 'debit', 1, 'cp-next')).catch((error: { code: string }) => error.code)).toBe('insufficient_funds');
  expect(await fresh.post(posting(owner, 'credit', 5, 'cp-credit'))).toMatchObject({ entry: { seq: 3, balanceBefore: 0, balanceAfter: 5 } });
  expect((await fresh.verify()).broken).toEqual([]);
});

it('opens the account of a first posting killed between its entry and the account document, counting it once', async () => {
  const owner = 'crash-at-open';
  const killed = await runWorker([posting(owner, 'credit', 70, 'co-first')], true);
  expect(killed.signal).toBe('SIGKILL');
  // The entry (the commit point) is stored; the account document, written after it, is not.
  expect(await store.connection.collection('ledger_entries').countDocuments({ ownerId: owner })).toBe(1);
  expect(await store.connection.collection('ledger_accounts').findOne({ _id: `USD:${owner}` as never })).toBeNull();

  // verify writes the missing document from entry 1 and counts the account as repaired, not broken.
  const report = await createLedger({ connection: store.connection }).verify();
  expect(report.broken).toEqual([]);
  expect(report.accountsRepaired).toBeGreaterThanOrEqual(1);
  expect(await store.connection.collection('ledger_accounts').findOne({ _id: `USD:${owner}` as never })).toMatchObject({ seq: 1, balance: 70 });

  // The caller's retry replays the entry; the account holds it once.
  const fresh = createLedger({ connection: store.connection });
  expect(await fresh.post(posting(owner, 'credit', 70, 'co-first'))).toMatchObject({ replayed: true, entry: { seq: 1, balanceAfter: 70 } });
  expect(await fresh.getAccount(owner, 'USD')).toMatchObject({ seq: 1, balance: 70 });
});

it('finds an account whose first posting was killed before its document was written, for readers and posters alike', async () => {
  const owner = 'crash-at-open-read';
  expect((await runWorker([posting(owner, 'credit', 30, 'cor-first')], true)).signal).toBe('SIGKILL');
  const fresh = createLedger({ connection: store.connection });
  expect(await fresh.getAccount(owner, 'USD')).toMatchObject({ ownerId: owner, balance: 30, seq: 1 });
  // A posting that does not open accounts still finds it.
  expect(await fresh.post({ ...posting(owner, 'debit', 30, 'cor-debit'), createIfMissing: false })).toMatchObject({ entry: { seq: 2, balanceAfter: 0 } });
  expect((await fresh.verify()).broken).toEqual([]);
});

it('corrects a head this process cached once another process has posted, refusing on the newest balance', async () => {
  const owner = 'stale-head';
  await ledger.post(posting(owner, 'credit', 100, 'sh-seed'));
  // This process now remembers balance 100; another process takes it to 55.
  const other = await runWorker([posting(owner, 'credit', 5, 'sh-credit'), posting(owner, 'debit', 50, 'sh-debit')]);
  expect(other.outcomes.map((o) => o.outcome)).toEqual(['posted', 'posted']);
  expect(await ledger.post(posting(owner, 'debit', 60, 'sh-too-much')).catch((error: { code: string }) => error.code)).toBe('insufficient_funds');
  expect(await ledger.post(posting(owner, 'credit', 1, 'sh-next'))).toMatchObject({ entry: { seq: 4, balanceBefore: 55, balanceAfter: 56 } });
  expect((await ledger.verify()).broken).toEqual([]);
});

it('honours a policy PATCH from another ledger in the very next posting of one that cached the old policy', async () => {
  const owner = 'patched-policy';
  await ledger.post(posting(owner, 'credit', 100, 'pp-seed'));
  // This ledger reads (and caches) minBalance 0 with the debit.
  await ledger.post(posting(owner, 'debit', 10, 'pp-debit'));
  const admin = createLedger({ connection: store.connection });
  const started = Date.now();
  await admin.setPolicy(owner, 'USD', { minBalance: 80 });
  // The PATCH answered only after the old policy's lease ran out everywhere.
  expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
  expect(await ledger.post(posting(owner, 'debit', 20, 'pp-refused')).catch((error: { code: string }) => error.code)).toBe('insufficient_funds');
  expect(await ledger.post(posting(owner, 'debit', 10, 'pp-allowed'))).toMatchObject({ entry: { balanceAfter: 80 } });
});

it('keeps a policy change that a concurrent whole-document write of the account (a stale hint advance) would have put back', async () => {
  const owner = 'policy-undone';
  await ledger.post(posting(owner, 'credit', 100, 'pu-seed'));
  const accounts = store.connection.collection('ledger_accounts');
  // What FerretDB 1.x can do: a hint advance reads the document before the PATCH and writes all of it back afterwards.
  const before = await accounts.findOne({ _id: `USD:${owner}` as never });
  expect(await ledger.setPolicy(owner, 'USD', { minBalance: 50 })).toMatchObject({ policyOverrides: { minBalance: 50 }, policy: { minBalance: 50 } });
  await accounts.replaceOne({ _id: `USD:${owner}` as never }, { ...before!, updatedAt: new Date() });

  const other = createLedger({ connection: store.connection });
  expect(await other.getAccount(owner, 'USD')).toMatchObject({ policyOverrides: { minBalance: 50 } });
  expect(await other.post(posting(owner, 'debit', 51, 'pu-refused')).catch((error: { code: string }) => error.code)).toBe('insufficient_funds');
});

it('keeps both of two PATCHes of different fields sent at once from two processes', async () => {
  const owner = 'policy-both';
  await ledger.post(posting(owner, 'credit', 100, 'pb-seed'));
  const [first, second] = [createLedger({ connection: store.connection }), createLedger({ connection: store.connection })];
  await Promise.all([first.setPolicy(owner, 'USD', { minBalance: -20 }), second.setPolicy(owner, 'USD', { maxBalance: 500 }), ledger.post(posting(owner, 'credit', 1, 'pb-during'))]);
  expect(await createLedger({ connection: store.connection }).getAccount(owner, 'USD')).toMatchObject({ balance: 101, policyOverrides: { minBalance: -20, maxBalance: 500 } });
});
