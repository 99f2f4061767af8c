import type { Connection } from 'mongoose';
import { isDomainError } from '../../../engine/errors';
import { createLedger, type Ledger, type PostRequest } from '../../../engine/ledger';
import { openTestStore } from '../../support/store';

const DAY_MS = 86_400_000;
const api = { kind: 'api', keyId: 'test-key' } as const;

let store: Awaited<ReturnType<typeof openTestStore>>;
let ledger: Ledger;
let now: Date;
let owners = 0;

function request(ownerId: string, overrides: Partial<PostRequest> = {}): PostRequest {
  return { ownerId, unit: 'USD', direction: 'credit', amount: 100, idempotencyKey: `${ownerId}-${Math.random()}`, createIfMissing: true, source: api, ...overrides };
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

async function entryCount(connection: Connection): Promise<number> {
  return connection.collection('ledger_entries').countDocuments({});
}

const newOwner = () => `owner-${(owners += 1)}`;

beforeAll(async () => {
  store = await openTestStore('ledger');
  now = new Date('2026-03-01T00:00:00Z');
  ledger = createLedger({ connection: store.connection, clock: () => now, policyDefaults: { CREDIT: { minBalance: -500 } } });
  await ledger.ensureIndexes();
});
afterAll(() => store.close());

describe('posting', () => {
  it('returns the original entry for the same key and request, and posts nothing new', async () => {
    const owner = newOwner();
    const first = await ledger.post(request(owner, { idempotencyKey: 'k-replay', comment: 'welcome bonus' }));
    const before = await entryCount(store.connection);
    const again = await ledger.post(request(owner, { idempotencyKey: 'k-replay', comment: 'welcome bonus' }));
    expect(first.replayed).toBe(false);
    expect(again).toEqual({ entry: first.entry, replayed: true });
    expect(await entryCount(store.connection)).toBe(before);
    expect((await ledger.getAccount(owner, 'USD'))?.balance).toBe(100);
  });

  it('refuses the same key with another amount, direction or account as idempotency_conflict', async () => {
    const owner = newOwner();
    await ledger.post(request(owner, { idempotencyKey: 'k-conflict' }));
    expect(await code(ledger.post(request(owner, { idempotencyKey: 'k-conflict', amount: 101 })))).toBe('idempotency_conflict');
    expect(await code(ledger.post(request(owner, { idempotencyKey: 'k-conflict', direction: 'debit' })))).toBe('idempotency_conflict');
    expect(await code(ledger.post(request(newOwner(), { idempotencyKey: 'k-conflict' })))).toBe('idempotency_conflict');
    expect((await ledger.getAccount(owner, 'USD'))?.seq).toBe(1);
  });

  it('opens no account for a first posting refused as a conflict or for insufficient funds', async () => {
    const owner = newOwner();
    const taken = await ledger.post(request(owner, { amount: 10 }));
    const stranger = newOwner();
    expect(await code(ledger.post(request(stranger, { amount: 10, idempotencyKey: taken.entry.idempotencyKey })))).toBe('idempotency_conflict');
    expect(await code(ledger.post(request(stranger, { direction: 'debit', amount: 1 })))).toBe('insufficient_funds');
    expect(await ledger.getAccount(stranger, 'USD')).toBeNull();
    expect((await ledger.listAccounts({ ownerId: stranger }, { limit: 10 })).items).toEqual([]);
  });

  it('returns a replayed debit even after the balance has dropped below it', async () => {
    const owner = newOwner();
    await ledger.post(request(owner, { amount: 100 }));
    const debit = await ledger.post(request(owner, { direction: 'debit', amount: 100, idempotencyKey: 'k-debit-replay' }));
    expect(await ledger.post(request(owner, { direction: 'debit', amount: 100, idempotencyKey: 'k-debit-replay' }))).toEqual({ entry: debit.entry, replayed: true });
  });

  it('lets a debit take 100 to exactly 0 and refuses a further debit of 1, writing nothing', async () => {
    const owner = newOwner();
    await ledger.post(request(owner, { amount: 100 }));
    await ledger.post(request(owner, { direction: 'debit', amount: 100 }));
    const before = await entryCount(store.connection);
    expect(await code(ledger.post(request(owner, { direction: 'debit', amount: 1 })))).toBe('insufficient_funds');
    expect(await entryCount(store.connection)).toBe(before);
    expect((await ledger.getAccount(owner, 'USD'))?.balance).toBe(0);
  });

  it('allows debt down to a negative minBalance set on the account, and not one unit further', async () => {
    const owner = newOwner();
    await ledger.setPolicy(owner, 'USD', { minBalance: -200, createIfMissing: true });
    await ledger.post(request(owner, { direction: 'debit', amount: 150 }));
    expect(await code(ledger.post(request(owner, { direction: 'debit', amount: 51 })))).toBe('insufficient_funds');
    await ledger.post(request(owner, { direction: 'debit', amount: 50 }));
    const account = await ledger.getAccount(owner, 'USD');
    expect(account).toMatchObject({ balance: -200, policy: { minBalance: -200 }, negativeSince: now });
  });

  it('uses the unit default policy from configuration when the account has none', async () => {
    const owner = newOwner();
    await ledger.post(request(owner, { unit: 'CREDIT', direction: 'debit', amount: 500 }));
    expect(await code(ledger.post(request(owner, { unit: 'CREDIT', direction: 'debit', amount: 1 })))).toBe('insufficient_funds');
  });

  it('refuses debits after maxNegativeDays negative, until a credit brings the balance back to >= 0', async () => {
    const owner = newOwner();
    const start = now;
    try {
      await ledger.setPolicy(owner, 'USD', { minBalance: -1_000, maxNegativeDays: 2, createIfMissing: true });
      await ledger.post(request(owner, { direction: 'debit', amount: 100 }));
      now = new Date(start.getTime() + 2 * DAY_MS);
      await ledger.post(request(owner, { direction: 'debit', amount: 10 }));
      now = new Date(start.getTime() + 2 * DAY_MS + 1);
      expect(await code(ledger.post(request(owner, { direction: 'debit', amount: 10 })))).toBe('negative_balance_expired');
      await ledger.post(request(owner, { direction: 'credit', amount: 110 }));
      await ledger.post(request(owner, { direction: 'debit', amount: 10 }));
      expect(await ledger.getAccount(owner, 'USD')).toMatchObject({ balance: -10, negativeSince: now });
    } finally {
      now = start;
    }
  });

  it('refuses bad input with typed errors and writes nothing', async () => {
    const owner = newOwner();
    const before = await entryCount(store.connection);
    expect(await code(ledger.post(request(owner, { amount: 0 })))).toBe('amount_must_be_positive_integer');
    expect(await code(ledger.post(request(owner, { amount: 1.5 })))).toBe('amount_must_be_positive_integer');
    expect(await code(ledger.post(request(owner, { unit: 'usd' })))).toBe('unit_invalid');
    expect(await code(ledger.post(request(owner, { createIfMissing: false })))).toBe('account_not_found');
    expect(await entryCount(store.connection)).toBe(before);
    expect(await ledger.getAccount(owner, 'USD')).toBeNull();
  });
});

describe('entry pages', () => {
  it('are newest first and neither repeat nor skip entries posted between pages', async () => {
    const owner = newOwner();
    for (let i = 1; i <= 5; i += 1) await ledger.post(request(owner, { amount: i }));
    const first = await ledger.listEntries(owner, 'USD', { limit: 2 });
    for (let i = 6; i <= 8; i += 1) await ledger.post(request(owner, { amount: i }));
    const second = await ledger.listEntries(owner, 'USD', { limit: 2, cursor: first.nextCursor ?? '' });
    const third = await ledger.listEntries(owner, 'USD', { limit: 2, cursor: second.nextCursor ?? '' });
    expect([...first.items, ...second.items, ...third.items].map((e) => e.seq)).toEqual([5, 4, 3, 2, 1]);
    expect(third.nextCursor).toBeNull();
    expect((await ledger.listEntries(owner, 'USD', { limit: 3 })).items.map((e) => e.amount)).toEqual([8, 7, 6]);
  });
});

describe('accounts list', () => {
  it('filters by owner, unit and exact balance range when the hint is kept exact', async () => {
    const exact = createLedger({ connection: store.connection, clock: () => now, hintInterval: 1 });
    const owner = newOwner();
    await exact.post(request(owner, { unit: 'EUR', amount: 40 }));
    await exact.post(request(owner, { unit: 'GBP', amount: 400 }));
    const page = await exact.listAccounts({ ownerId: owner, balanceGte: 100 }, { limit: 10 });
    expect(page.items.map((a) => a.unit)).toEqual(['GBP']);
    expect((await exact.listAccounts({ ownerId: owner, unit: 'EUR' }, { limit: 10 })).items.map((a) => a.balance)).toEqual([40]);
  });

  it('never returns an account outside the balance range while its hint trails', async () => {
    const owner = newOwner();
    await ledger.post(request(owner, { amount: 500 }));
    await ledger.post(request(owner, { direction: 'debit', amount: 500 }));
    expect((await ledger.listAccounts({ ownerId: owner, balanceGte: 1 }, { limit: 10 })).items).toEqual([]);
    expect((await ledger.listAccounts({ ownerId: owner }, { limit: 10 })).items.map((a) => a.balance)).toEqual([0]);
  });
});

describe('balance marks', () => {
  async function marksOf(ownerId: string) {
    const marks = [];
    for (let after: string | null = null; ;) {
      const page = await ledger.balanceChanges.readMarks(after, 500);
      marks.push(...page.filter((mark) => mark.accountId === `USD:${ownerId}`));
      if (page.length < 500) return marks;
      after = page.at(-1)!.id;
    }
  }

  it('mark every slot a posting takes, in seq order, until cleared; a replayed key leaves no mark', async () => {
    const owner = newOwner();
    const credit = await ledger.post(request(owner, { amount: 70, idempotencyKey: `${owner}-credit` }));
    const debit = await ledger.post(request(owner, { direction: 'debit', amount: 20 }));
    expect((await ledger.post(request(owner, { amount: 70, idempotencyKey: `${owner}-credit` }))).replayed).toBe(true);
    const marks = await marksOf(owner);
    expect(marks.map((mark) => [mark.seq, mark.entryId])).toEqual([[1, credit.entry.id], [2, debit.entry.id]]);
    expect(await ledger.balanceChanges.entryAt(debit.entry.id)).toEqual(expect.objectContaining({ balanceBefore: 70, balanceAfter: 50, direction: 'debit', amount: 20 }));
    expect(await ledger.balanceChanges.entryAt(`USD:${owner}:3`)).toBeNull();
    await ledger.balanceChanges.clearMarks(marks.map((mark) => mark.id));
    expect(await marksOf(owner)).toEqual([]);
  });

  it('are one per slot when postings to one account queue up, and none is left ahead for a slot the last queued posting did not take', async () => {
    const owner = newOwner();
    const credits = Array.from({ length: 5 }, (_, i) => ledger.post(request(owner, { amount: 10 + i })));
    // Queued last, and refused: the mark placed ahead for its slot (6) is dropped once the queue is done.
    const refused = code(ledger.post(request(owner, { direction: 'debit', amount: 1_000_000 })));
    await Promise.all(credits);
    expect(await refused).toBe('insufficient_funds');
    const deadline = Date.now() + 5_000;
    let seqs: number[] = [];
    do seqs = (await marksOf(owner)).map((mark) => mark.seq);
    while (seqs.length !== 5 && Date.now() < deadline);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('verify', () => {
  it('passes a consistent ledger and names an account whose entry was tampered with', async () => {
    const owner = newOwner();
    await ledger.post(request(owner, { amount: 10 }));
    await ledger.post(request(owner, { amount: 20 }));
    expect((await ledger.verify()).broken).toEqual([]);
    await store.connection.collection('ledger_entries').updateOne({ _id: `USD:${owner}:2` as never }, { $set: { balanceAfter: 31 } });
    const report = await ledger.verify();
    expect(report.broken).toEqual([expect.objectContaining({ ownerId: owner, unit: 'USD', problems: expect.arrayContaining([expect.stringContaining('seq 2: balanceAfter 31'), expect.stringContaining('differs from the sum')]) })]);
    await store.connection.collection('ledger_entries').updateOne({ _id: `USD:${owner}:2` as never }, { $set: { balanceAfter: 30 } });
  });
});
