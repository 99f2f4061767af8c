// Refusals against the real store: a refused posting must still return the
// entry of a replayed key, and must find that out without a lookup by key
// (FerretDB answers a filter on anything but `_id` by scanning every entry,
// which made each refusal cost a pass over the whole ledger). Key claims
// (engine/ledger/key-claims.ts) answer it by `_id` for debits, what
// balances refuse; ledgers written before them are backfilled once.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { createLedger, type Ledger, type PostRequest } from '../../../engine/ledger';
import { refusalCode } from '../../support/refusal';
import { openTestStore } from '../../support/store';

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let ledger: Ledger;

beforeAll(async () => {
  store = await openTestStore('key_claims', { recordCommands: true });
  ({ connection } = store);
  ledger = createLedger({ connection });
  await ledger.ensureIndexes();
});

afterAll(async () => {
  await store?.close();
});

function posting(ownerId: string, overrides: Partial<PostRequest> = {}): PostRequest {
  return { ownerId, unit: 'USD', direction: 'credit', amount: 100, idempotencyKey: `${ownerId}-${randomBytes(4).toString('hex')}`, createIfMissing: true, source: { kind: 'api', keyId: 'key_test' }, ...overrides };
}

/** The filters of the finds sent to the entries: FerretDB answers only `{ _id: <string> }` from an index. */
function findsOnEntries(): unknown[] {
  return store.commands.sent.filter(({ name, command }) => name === 'find' && command.find === 'ledger_entries').map(({ command }) => command.filter);
}

const owner = () => `owner-${randomBytes(4).toString('hex')}`;

describe('a refused posting', () => {
  it('is refused without reading the entries by anything but _id, however many entries the ledger holds', async () => {
    const others = Array.from({ length: 20 }, owner);
    await Promise.all(others.map((other) => ledger.post(posting(other))));
    const poor = owner();
    await ledger.post(posting(poor, { amount: 10 }));

    store.commands.clear();
    expect(await refusalCode(ledger.post(posting(poor, { direction: 'debit', amount: 30, idempotencyKey: `renew:${poor}:2026-12-01` })))).toBe('insufficient_funds');
    for (const filter of findsOnEntries()) expect(filter).toEqual({ _id: expect.any(String) });
    // Refused again the next day under the same key: still no lookup by key, and nothing was written by either.
    expect(await refusalCode(ledger.post(posting(poor, { direction: 'debit', amount: 30, idempotencyKey: `renew:${poor}:2026-12-01` })))).toBe('insufficient_funds');
    for (const filter of findsOnEntries()) expect(filter).toEqual({ _id: expect.any(String) });
    expect(store.commands.sent.filter(({ name }) => ['insert', 'update', 'delete'].includes(name)).map(({ command }) => Object.values(command)[0])).not.toContain('ledger_entries');
    expect((await ledger.getAccount(poor, 'USD'))?.balance).toBe(10);
  });

  it('still returns the entry of a replayed debit that the balance no longer covers', async () => {
    const spender = owner();
    await ledger.post(posting(spender, { amount: 50 }));
    const debit = await ledger.post(posting(spender, { direction: 'debit', amount: 50, idempotencyKey: `renew:${spender}:2026-11-01` }));
    expect((await ledger.getAccount(spender, 'USD'))?.balance).toBe(0);
    expect(await ledger.post(posting(spender, { direction: 'debit', amount: 50, idempotencyKey: `renew:${spender}:2026-11-01` }))).toEqual({ entry: debit.entry, replayed: true });
    // The same key for another amount is a conflict, not a refusal.
    expect(await refusalCode(ledger.post(posting(spender, { direction: 'debit', amount: 60, idempotencyKey: `renew:${spender}:2026-11-01` })))).toBe('idempotency_conflict');
  });
});

describe('a ledger written before key claims', () => {
  it('is backfilled at startup, so a replay refused by its balance still returns its entry, and ledger:verify puts a lost claim back', async () => {
    const spender = owner();
    await ledger.post(posting(spender, { amount: 40 }));
    const debit = await ledger.post(posting(spender, { direction: 'debit', amount: 40, idempotencyKey: `pay:${spender}` }));
    // As an older release left it: no claims, no migration record.
    await connection.collection('ledger_key_claims').deleteMany({});
    await connection.collection('ledger_migrations').deleteMany({});

    const restarted = createLedger({ connection });
    expect(await restarted.post(posting(spender, { direction: 'debit', amount: 40, idempotencyKey: `pay:${spender}` }))).toEqual({ entry: debit.entry, replayed: true });
    // Every debit's key is claimed again; credits claim nothing.
    const debits = await connection.collection('ledger_entries').countDocuments({ direction: 'debit' });
    expect(await connection.collection('ledger_key_claims').countDocuments({})).toBe(debits);
    expect(await connection.collection('ledger_key_claims').countDocuments({ _id: `pay:${spender}` as never })).toBe(1);

    await connection.collection('ledger_key_claims').deleteOne({ _id: `pay:${spender}` as never });
    const report = await restarted.verify();
    expect(report.keyClaimsRepaired).toBe(1);
    expect(report.broken).toEqual([]);
    expect(await connection.collection('ledger_key_claims').countDocuments({ _id: `pay:${spender}` as never })).toBe(1);
  });
});
