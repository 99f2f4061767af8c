// The balance pump against the real store: what its polls send to the
// ledger's collections (FerretDB answers only `_id` equality from an index,
// so any other filter on the entries would scan all of them on every poll),
// and what it does with slots whose poster stopped half-way.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { balanceEventOf, BalancePump } from '../../../engine/events/balance-pump';
import { canonicalJson } from '../../../engine/events/canonical-hash';
import type { EventInput } from '../../../engine/events/ingest';
import { createLedger, type Ledger, type LedgerEntry, type PostRequest } from '../../../engine/ledger';
import { markKey } from '../../../engine/ledger/models';
import { openTestStore } from '../../support/store';

const silent = { error: () => undefined, warn: () => undefined, debug: () => undefined };

let store: Awaited<ReturnType<typeof openTestStore>>;
let connection: Connection;
let ledger: Ledger;

beforeAll(async () => {
  store = await openTestStore('balance_pump', { recordCommands: true });
  ({ connection } = store);
  ledger = createLedger({ connection });
  await ledger.ensureIndexes();
});

afterAll(async () => {
  await store?.close();
});

function credit(ownerId: string, amount: number): PostRequest {
  return { ownerId, unit: 'USD', direction: 'credit', amount, idempotencyKey: `${ownerId}-${randomBytes(4).toString('hex')}`, createIfMissing: true, source: { kind: 'api', keyId: 'key_test' } };
}

function pumpRecording() {
  const ingested: EventInput[] = [];
  const pump = new BalancePump({ outbox: ledger.balanceChanges, logger: silent, pollIntervalMs: 60_000, ingest: async (input) => void ingested.push(input) });
  return { pump, ingested };
}

/** What a command sent to a collection: its name and filter (finds, deletes, counts, aggregations). */
function sentTo(collection: string) {
  return store.commands.sent
    .filter(({ command }) => Object.values(command).includes(collection))
    .map(({ name, command }) => ({ name, filter: (command.filter ?? (command.deletes as Array<{ q: unknown }> | undefined)?.[0]?.q ?? command.query ?? command.pipeline) as unknown }));
}

describe('a poll of the balance pump', () => {
  it('reads ledger entries by _id only, one per marked slot, however many entries the ledger holds', async () => {
    const owners = ['ann', 'ben', 'cat'].map((name) => `${name}-${randomBytes(3).toString('hex')}`);
    for (let round = 0; round < 4; round += 1) await Promise.all(owners.map((owner) => ledger.post(credit(owner, 100 + round))));
    const { pump, ingested } = pumpRecording();
    store.commands.clear();
    const report = await pump.pollOnce();

    expect(report).toEqual({ delivered: 12, kept: 0, failedAccounts: 0, more: false });
    expect(ingested.map((event) => event.id).sort()).toEqual(owners.flatMap((owner) => [1, 2, 3, 4].map((seq) => `bal:USD:${owner}:${seq}`)).sort());
    const onEntries = sentTo('ledger_entries');
    expect(onEntries).toHaveLength(12);
    for (const command of onEntries) {
      expect(command.name).toBe('find');
      expect(command.filter).toEqual({ _id: expect.stringMatching(/^USD:/) });
    }
    // The marks are read and deleted; nothing else is written.
    expect(sentTo('ledger_balance_marks').map((command) => command.name)).toEqual(['find', 'delete']);
    expect(store.commands.sent.filter(({ name }) => ['insert', 'update', 'findAndModify'].includes(name))).toEqual([]);

    // Handed over: the next poll reads the (now empty) marks and no entry at all.
    store.commands.clear();
    expect(await pump.pollOnce()).toEqual({ delivered: 0, kept: 0, failedAccounts: 0, more: false });
    expect(sentTo('ledger_entries')).toEqual([]);
  });

  it('keeps the mark of a poster that stopped before its entry until a later posting takes the slot, then delivers that entry once', async () => {
    const owner = `dan-${randomBytes(3).toString('hex')}`;
    await ledger.post(credit(owner, 500));
    const { pump, ingested } = pumpRecording();
    await pump.pollOnce();
    // A poster that placed its mark for seq 2 and died before inserting the entry.
    await connection.collection('ledger_balance_marks').insertOne({ _id: markKey(`USD:${owner}`, 2, 'crashed') as never, accountId: `USD:${owner}`, seq: 2, createdAt: new Date() });

    expect(await pump.pollOnce()).toEqual({ delivered: 0, kept: 1, failedAccounts: 0, more: false });
    await ledger.post(credit(owner, 70));
    expect(await pump.pollOnce()).toEqual({ delivered: 1, kept: 0, failedAccounts: 0, more: false });
    expect(ingested.map((event) => [event.id, event.data.before, event.data.after])).toEqual([[`bal:USD:${owner}:1`, 0, 500], [`bal:USD:${owner}:2`, 500, 570]]);
    expect(await connection.collection('ledger_balance_marks').countDocuments({})).toBe(0);
  });

  it('delivers the entry of a posting whose process stopped right after inserting it', async () => {
    const owner = `eve-${randomBytes(3).toString('hex')}`;
    const crashing = createLedger({ connection, faultPoints: { afterEntryInserted: async () => { throw new Error('process killed after the entry insert'); } } });
    await expect(crashing.post(credit(owner, 1234))).rejects.toThrow('process killed after the entry insert');
    const { pump, ingested } = pumpRecording();
    expect(await pump.pollOnce()).toMatchObject({ delivered: 1, kept: 0 });
    expect(ingested).toEqual([expect.objectContaining({ id: `bal:USD:${owner}:1`, data: expect.objectContaining({ before: 0, after: 1234 }) })]);
  });

  it('reads no entry that this process posted and handed over, and builds from it the event a read of the entry builds', async () => {
    const handed: LedgerEntry[] = [];
    const posting = createLedger({ connection, onEntryInserted: (entry) => handed.push(entry) });
    const owner = `fox-${randomBytes(3).toString('hex')}`;
    const source = { kind: 'trigger' as const, triggerId: 'trg_0123456789abcdef', workflowId: 'trg_0123456789abcdef:evt_1', taskId: 'credit', eventId: 'evt_1' };
    // A source field left undefined by its caller is stored as the store stores it; the handed entry must say the same.
    const requests: PostRequest[] = [
      credit(owner, 300),
      { ...credit(owner, 45), comment: 'goodwill', source: { ...source, depth: undefined as unknown as number } },
      { ...credit(owner, 20), direction: 'debit', source: { ...source, depth: 2 } },
    ];
    for (const request of requests) await posting.post(request);
    const { pump, ingested } = pumpRecording();
    for (const entry of handed) pump.wake(entry);
    store.commands.clear();

    expect(await pump.pollOnce()).toEqual({ delivered: 3, kept: 0, failedAccounts: 0, more: false });
    expect(sentTo('ledger_entries')).toEqual([]);
    const stored = await Promise.all(handed.map((entry) => ledger.balanceChanges.entryAt(entry.id)));
    expect(handed).toStrictEqual(stored);
    // The same event body byte for byte, so a pump elsewhere that reads the entry stores no conflicting event.
    expect(ingested.map(canonicalJson)).toEqual(stored.map((entry) => canonicalJson(balanceEventOf(entry!).input)));
    expect(ingested.map((event) => [event.data.before, event.data.after])).toEqual([[0, 300], [300, 345], [345, 325]]);
  });
});
