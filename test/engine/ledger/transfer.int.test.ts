import { spawn } from 'node:child_process';
import path from 'node:path';
import { isDomainError } from '../../../engine/errors';
import { MAX_TRANSFER_ID_LENGTH, TransferReversedError, createLedger, type Ledger, type TransferRequest } from '../../../engine/ledger';
import { openTestStore } from '../../support/store';

const WORKER = path.join(__dirname, 'fixtures', 'transfer-worker.ts');
const api = { kind: 'api', keyId: 'test-key' } as const;

let store: Awaited<ReturnType<typeof openTestStore>>;
let ledger: Ledger;
let owners = 0;

const newOwner = (label: string) => `${label}-${(owners += 1)}`;

function transferOf(fromOwnerId: string, toOwnerId: string, amount: number, transferId: string, overrides: Partial<TransferRequest> = {}): TransferRequest {
  return { transferId, fromOwnerId, toOwnerId, unit: 'USD', amount, createIfMissing: true, source: api, ...overrides };
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    if (isDomainError(error)) return error.code;
    throw error;
  }
}

async function fund(ownerId: string, amount: number): Promise<void> {
  await ledger.post({ ownerId, unit: 'USD', direction: 'credit', amount, idempotencyKey: `fund:${ownerId}:${amount}`, createIfMissing: true, source: api });
}

const entries = () => store.connection.collection('ledger_entries');
const entriesOf = (transferId: string) => entries().find({ transferId }).sort({ transferLeg: 1 }).toArray();
const balance = async (ownerId: string) => (await ledger.getAccount(ownerId, 'USD'))?.balance;

/** Runs the transfer worker in its own node process; resolves with its outcomes and exit signal. */
function runWorker(requests: TransferRequest[], crashAfterDebit = false): Promise<{ outcomes: Array<{ transferId: string; outcome: string }>; signal: NodeJS.Signals | null }> {
  const input = JSON.stringify({ uri: store.uri, dbName: store.dbName, requests, crashAfterDebit });
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, input], { cwd: path.resolve(__dirname, '../../..'), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => {
      if (exitCode !== 0 && signal === null) reject(new Error(`worker exited ${exitCode}: ${stderr}`));
      else resolve({ outcomes: stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { transferId: string; outcome: string }), signal });
    });
  });
}

beforeAll(async () => {
  store = await openTestStore('ledger_transfer');
  ledger = createLedger({ connection: store.connection });
  await ledger.ensureIndexes();
});
afterAll(() => store.close());

describe('a transfer', () => {
  it('debits from, credits to, and marks both entries with the transfer, its keys and the other side', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 1_000);
    const result = await ledger.transfer(transferOf(from, to, 300, 't-basic', { comment: 'partner share' }));
    expect(result).toEqual({ transferId: 't-basic', debitEntryId: `USD:${from}:2`, creditEntryId: `USD:${to}:1`, fromBalanceAfter: 700, toBalanceAfter: 300, replayed: false });
    const [credit, debit] = await entriesOf('t-basic');
    expect(debit).toMatchObject({ ownerId: from, direction: 'debit', amount: 300, idempotencyKey: 't-basic:debit', transferLeg: 'debit', counterparty: { ownerId: to, unit: 'USD' }, comment: 'partner share' });
    expect(credit).toMatchObject({ ownerId: to, direction: 'credit', amount: 300, idempotencyKey: 't-basic:credit', transferLeg: 'credit', counterparty: { ownerId: from, unit: 'USD' }, comment: 'partner share' });
    expect(await balance(from)).toBe(700);
    expect(await balance(to)).toBe(300);
    // Readers of the ledger see the marks too.
    expect((await ledger.listEntries(to, 'USD', { limit: 1 })).items[0]).toMatchObject({ transferId: 't-basic', transferLeg: 'credit', counterparty: { ownerId: from, unit: 'USD' } });
  });

  it('replays the same request with the same entries and writes nothing new', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 500);
    const first = await ledger.transfer(transferOf(from, to, 200, 't-replay'));
    const count = await entries().countDocuments({});
    expect(await ledger.transfer(transferOf(from, to, 200, 't-replay'))).toEqual({ ...first, replayed: true });
    // Also from a process that never saw it, and after the balance no longer covers it.
    await ledger.post({ ownerId: from, unit: 'USD', direction: 'debit', amount: 300, idempotencyKey: `drain:${from}`, source: api });
    expect(await createLedger({ connection: store.connection }).transfer(transferOf(from, to, 200, 't-replay'))).toEqual({ ...first, replayed: true });
    expect(await entries().countDocuments({})).toBe(count + 1);
    expect(await balance(to)).toBe(200);
  });

  it('refuses the same transferId for another amount, account or comment as idempotency_conflict', async () => {
    const [from, to, other] = [newOwner('wallet'), newOwner('customer'), newOwner('customer')];
    await fund(from, 500);
    await ledger.transfer(transferOf(from, to, 100, 't-conflict'));
    const count = await entries().countDocuments({});
    expect(await code(ledger.transfer(transferOf(from, to, 101, 't-conflict')))).toBe('idempotency_conflict');
    expect(await code(ledger.transfer(transferOf(from, other, 100, 't-conflict')))).toBe('idempotency_conflict');
    expect(await code(ledger.transfer(transferOf(other, to, 100, 't-conflict')))).toBe('idempotency_conflict');
    expect(await code(ledger.transfer(transferOf(from, to, 100, 't-conflict', { comment: 'another' })))).toBe('idempotency_conflict');
    expect(await entries().countDocuments({})).toBe(count);
  });

  it('refuses a transferId used before another transfer finished, by the entry it left', async () => {
    const [from, to, other] = [newOwner('wallet'), newOwner('customer'), newOwner('customer')];
    await fund(from, 500);
    // A transfer stopped after its debit (no outcome record yet): the debit names its counterparty, so another `to` conflicts.
    const stopped = createLedger({ connection: store.connection, faultPoints: { afterTransferDebit: () => Promise.reject(new Error('stopped')) } });
    await expect(stopped.transfer(transferOf(from, to, 100, 't-conflict-open'))).rejects.toThrow('stopped');
    expect(await code(ledger.transfer(transferOf(from, other, 100, 't-conflict-open')))).toBe('idempotency_conflict');
    expect(await balance(other)).toBeUndefined();
    expect((await ledger.transfer(transferOf(from, to, 100, 't-conflict-open'))).replayed).toBe(false);
    expect(await balance(to)).toBe(100);
  });

  it('does not let a plain posting replay a transfer leg under its key', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 100);
    await ledger.transfer(transferOf(from, to, 100, 't-leg-key'));
    expect(await code(ledger.post({ ownerId: from, unit: 'USD', direction: 'debit', amount: 100, idempotencyKey: 't-leg-key:debit', source: api }))).toBe('idempotency_conflict');
  });
});

describe('a refused transfer', () => {
  it('refuses from = to as transfer_same_account and writes nothing', async () => {
    const owner = newOwner('wallet');
    await fund(owner, 100);
    const count = await entries().countDocuments({});
    const refused = await ledger.transfer(transferOf(owner, owner, 10, 't-same')).catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'transfer_same_account', kind: 'invalid', errors: [{ path: 'toOwnerId' }] });
    expect(await entries().countDocuments({})).toBe(count);
  });

  it('refuses a missing to without createIfMissing before debiting anything, and opens it with', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('nobody')];
    await fund(from, 100);
    expect(await code(ledger.transfer(transferOf(from, to, 10, 't-missing-to', { createIfMissing: false })))).toBe('account_not_found');
    expect(await ledger.getAccount(from, 'USD')).toMatchObject({ balance: 100, seq: 1 });
    expect(await ledger.getAccount(to, 'USD')).toBeNull();
    expect(await ledger.transfer(transferOf(from, to, 10, 't-missing-to'))).toMatchObject({ fromBalanceAfter: 90, toBalanceAfter: 10 });
  });

  it('refuses a missing from without createIfMissing, and a new from with no funds under its default policy', async () => {
    const [to, nobody] = [newOwner('customer'), newOwner('nobody')];
    await fund(to, 1);
    expect(await code(ledger.transfer(transferOf(nobody, to, 10, 't-missing-from', { createIfMissing: false })))).toBe('account_not_found');
    expect(await code(ledger.transfer(transferOf(nobody, to, 10, 't-missing-from')))).toBe('insufficient_funds');
    expect(await ledger.getAccount(nobody, 'USD')).toBeNull();
    expect(await entries().countDocuments({ transferId: 't-missing-from' })).toBe(0);
  });

  it("applies from's policy: insufficient_funds posts nothing at all, and the same transfer goes through once funded", async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 100);
    const count = await entries().countDocuments({});
    expect(await code(ledger.transfer(transferOf(from, to, 101, 't-funds')))).toBe('insufficient_funds');
    expect(await entries().countDocuments({})).toBe(count);
    expect(await ledger.getAccount(to, 'USD')).toBeNull();
    await ledger.setPolicy(from, 'USD', { minBalance: -1 });
    expect(await ledger.transfer(transferOf(from, to, 101, 't-funds'))).toMatchObject({ fromBalanceAfter: -1, toBalanceAfter: 101, replayed: false });
  });

  it('checks the transferId, amount and unit on both sides of their limits', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 10);
    const longest = 'x'.repeat(MAX_TRANSFER_ID_LENGTH);
    expect(await code(ledger.transfer(transferOf(from, to, 1, '')))).toBe('transfer_id_invalid');
    expect(await code(ledger.transfer(transferOf(from, to, 1, `${longest}x`)))).toBe('transfer_id_invalid');
    expect(await code(ledger.transfer(transferOf(from, to, 0, 't-limits')))).toBe('amount_must_be_positive_integer');
    expect(await code(ledger.transfer(transferOf(from, to, 1.5, 't-limits')))).toBe('amount_must_be_positive_integer');
    expect(await code(ledger.transfer(transferOf(from, to, 1, 't-limits', { unit: 'usd' })))).toBe('unit_invalid');
    expect(await code(ledger.transfer(transferOf(from, '', 1, 't-limits')))).toBe('owner_id_invalid');
    expect(await ledger.transfer(transferOf(from, to, 1, longest))).toMatchObject({ transferId: longest, toBalanceAfter: 1 });
    expect((await entriesOf(longest)).map((e) => e.idempotencyKey)).toEqual([`${longest}:credit`, `${longest}:debit`]);
  });
});

describe('a transfer whose credit is refused for good', () => {
  it('is reversed by a credit back to from under the same transferId, and stays reversed on every retry', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 500);
    await fund(to, 1);
    // Another posting already holds the credit's key, so the credit can never be posted.
    await ledger.post({ ownerId: to, unit: 'USD', direction: 'credit', amount: 7, idempotencyKey: 't-reversed:credit', source: api });
    const thrown = await ledger.transfer(transferOf(from, to, 200, 't-reversed')).catch((error: unknown) => error);
    expect(thrown).toBeInstanceOf(TransferReversedError);
    expect(thrown).toMatchObject({ code: 'transfer_reversed', kind: 'invalid', refusalCode: 'idempotency_conflict', debitEntryId: `USD:${from}:2`, reversalEntryId: `USD:${from}:3` });
    const legs = await entriesOf('t-reversed');
    expect(legs).toEqual([
      expect.objectContaining({ ownerId: from, direction: 'debit', amount: 200, idempotencyKey: 't-reversed:debit', transferLeg: 'debit', counterparty: { ownerId: to, unit: 'USD' } }),
      expect.objectContaining({ ownerId: from, direction: 'credit', amount: 200, idempotencyKey: 't-reversed:reversal', transferLeg: 'reversal', counterparty: { ownerId: to, unit: 'USD' } }),
    ]);
    expect(await balance(from)).toBe(500);
    expect(await balance(to)).toBe(8);

    // A retry, here or in a process that never saw it, moves nothing and answers the same.
    const count = await entries().countDocuments({});
    expect(await code(ledger.transfer(transferOf(from, to, 200, 't-reversed')))).toBe('transfer_reversed');
    expect(await code(createLedger({ connection: store.connection }).transfer(transferOf(from, to, 200, 't-reversed')))).toBe('transfer_reversed');
    expect(await entries().countDocuments({})).toBe(count);
    expect((await ledger.verify()).brokenTransfers).toEqual([]);
  });
});

describe('verify', () => {
  it('passes paired transfers and names one whose counterparty was tampered with', async () => {
    const [from, to, stranger] = [newOwner('wallet'), newOwner('customer'), newOwner('stranger')];
    await fund(from, 100);
    const { creditEntryId } = await ledger.transfer(transferOf(from, to, 40, 't-tampered'));
    const clean = await ledger.verify();
    expect(clean.brokenTransfers).toEqual([]);
    expect(clean.transfersChecked).toBeGreaterThanOrEqual(1);
    await entries().updateOne({ _id: creditEntryId as never }, { $set: { counterparty: { ownerId: stranger, unit: 'USD' } } });
    try {
      const report = await ledger.verify();
      // The balances still add up; only the pairing is wrong.
      expect(report.broken).toEqual([]);
      expect(report.brokenTransfers).toEqual([{ transferId: 't-tampered', problems: [expect.stringContaining(`names USD/${stranger} as counterparty`)] }]);
    } finally {
      await entries().updateOne({ _id: creditEntryId as never }, { $set: { counterparty: { ownerId: from, unit: 'USD' } } });
    }
  });

  it('names legs that disagree on unit, a leg whose key does not match its transfer, and a transfer without a debit', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 100);
    const { debitEntryId, creditEntryId } = await ledger.transfer(transferOf(from, to, 40, 't-disagree'));
    const judged = async () => (await ledger.verify()).brokenTransfers.find((t) => t.transferId === 't-disagree')?.problems;
    await entries().updateOne({ _id: creditEntryId as never }, { $set: { idempotencyKey: 't-other:credit' } });
    expect(await judged()).toEqual([expect.stringContaining('key "t-other:credit" is not "t-disagree:credit"')]);
    await entries().updateOne({ _id: creditEntryId as never }, { $set: { idempotencyKey: 't-disagree:credit', unit: 'EUR' } });
    expect(await judged()).toEqual(expect.arrayContaining([expect.stringContaining('is in EUR')]));
    await entries().updateOne({ _id: creditEntryId as never }, { $set: { unit: 'USD' } });
    // The debit turned into a second credit: two credits and no debit.
    await entries().updateOne({ _id: debitEntryId as never }, { $set: { transferLeg: 'credit', direction: 'credit' } });
    expect(await judged()).toEqual(expect.arrayContaining([expect.stringContaining('no debit')]));
    await entries().updateOne({ _id: debitEntryId as never }, { $set: { transferLeg: 'debit', direction: 'debit' } });
    expect(await judged()).toBeUndefined();
  });
});

describe('a transfer stopped between its halves', () => {
  it('is completed by a retry from another process after a SIGKILL right after the debit: one debit, one credit', async () => {
    const [from, to] = [newOwner('wallet'), newOwner('customer')];
    await fund(from, 1_000);
    const request = transferOf(from, to, 250, 't-crash');
    const killed = await runWorker([request], true);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.outcomes).toEqual([]);
    expect((await entriesOf('t-crash')).map((e) => e.transferLeg)).toEqual(['debit']);

    // verify sees the half-done transfer (the accounts themselves are consistent).
    const halfDone = await ledger.verify();
    expect(halfDone.broken).toEqual([]);
    expect(halfDone.brokenTransfers).toEqual([{ transferId: 't-crash', problems: [expect.stringContaining('has neither a credit nor a reversal')] }]);

    // What Temporal does after the worker died: the same transfer again, from another process.
    const retried = await runWorker([request]);
    expect(retried.outcomes).toEqual([{ transferId: 't-crash', outcome: 'transferred' }]);
    expect((await entriesOf('t-crash')).map((e) => [e.transferLeg, e.ownerId, e.amount])).toEqual([['credit', to, 250], ['debit', from, 250]]);
    expect(await balance(from)).toBe(750);
    expect(await balance(to)).toBe(250);
    expect(await ledger.transfer(request)).toMatchObject({ fromBalanceAfter: 750, toBalanceAfter: 250, replayed: true });
    const report = await ledger.verify();
    expect(report.broken).toEqual([]);
    expect(report.brokenTransfers).toEqual([]);
  });
});

describe('the same transfers from several processes at once', () => {
  it('post one debit and one credit each', async () => {
    const hub = newOwner('hub');
    await fund(hub, 10_000);
    const requests = Array.from({ length: 12 }, (_, i) => transferOf(hub, `${hub}-spoke-${i}`, 100 + i, `t-race-${i}`));
    const [a, b, here] = await Promise.all([
      runWorker(requests),
      runWorker([...requests].reverse()),
      Promise.all(requests.map((request) => ledger.transfer(request).then((r) => (r.replayed ? 'replayed' : 'transferred'), (error: { code: string }) => error.code))),
    ]);
    const outcomes = [...a.outcomes.map((o) => o.outcome), ...b.outcomes.map((o) => o.outcome), ...here];
    expect(outcomes).toHaveLength(36);
    expect(outcomes.every((o) => o === 'transferred' || o === 'replayed')).toBe(true);
    for (const [i, request] of requests.entries()) {
      expect((await entriesOf(request.transferId)).map((e) => e.transferLeg)).toEqual(['credit', 'debit']);
      expect(await balance(`${hub}-spoke-${i}`)).toBe(100 + i);
    }
    const moved = requests.reduce((total, r) => total + r.amount, 0);
    expect(await balance(hub)).toBe(10_000 - moved);
    const report = await ledger.verify();
    expect(report.broken).toEqual([]);
    expect(report.brokenTransfers).toEqual([]);
  });
});
