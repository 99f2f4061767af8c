import { DomainError } from '../../../engine/errors';
import { balanceEventOf, BalancePump } from '../../../engine/events/balance-pump';
import type { EventInput, Routing, RunOptions } from '../../../engine/events/ingest';
import type { BalanceChangeOutbox, BalanceMark, LedgerEntry } from '../../../engine/ledger';

const silent = { error: () => undefined, warn: () => undefined, debug: () => undefined };

function entry(accountId: string, seq: number, overrides: Partial<LedgerEntry> = {}): LedgerEntry {
  const [unit, ownerId] = [accountId.slice(0, accountId.indexOf(':')), accountId.slice(accountId.indexOf(':') + 1)];
  return {
    id: `${accountId}:${seq}`, accountId, ownerId, unit, seq, direction: 'credit', amount: 100, balanceBefore: (seq - 1) * 100, balanceAfter: seq * 100,
    idempotencyKey: `k${seq}`, source: { kind: 'api', keyId: 'key_1' }, createdAt: new Date(Date.UTC(2026, 11, 2, 0, 0, seq)), ...overrides,
  };
}

/** An outbox in memory: marks by id, entries by id, and a count of every call. */
class MemoryOutbox implements BalanceChangeOutbox {
  marks = new Map<string, BalanceMark>();
  entries = new Map<string, LedgerEntry>();
  reads = 0;
  entryReads: string[] = [];
  /** What happened, in order: 'marks' for each read of them. */
  calls: string[] = [];
  /** While set, readMarks waits for it: a poll in progress. */
  gate: Promise<void> | undefined;

  mark(accountId: string, seq: number, attempt = 'a'): void {
    const id = `${accountId}:${String(seq).padStart(16, '0')}:${attempt}`;
    this.marks.set(id, { id, accountId, seq, entryId: `${accountId}:${seq}` });
  }

  async readMarks(after: string | null, limit: number): Promise<BalanceMark[]> {
    this.reads += 1;
    this.calls.push('marks');
    await this.gate;
    return [...this.marks.values()].filter((mark) => after === null || mark.id > after).sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, limit);
  }

  async entryAt(entryId: string): Promise<LedgerEntry | null> {
    this.entryReads.push(entryId);
    return this.entries.get(entryId) ?? null;
  }

  async clearMarks(markIds: readonly string[]): Promise<void> {
    for (const id of markIds) this.marks.delete(id);
  }
}

function recorder() {
  const ingested: Array<{ input: EventInput; options: RunOptions }> = [];
  return { ingested, ingest: async (input: EventInput, _actor: string, options: RunOptions) => void ingested.push({ input, options }) };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('a balance event', () => {
  it('has the entry id, the before and after balances, the account and the entry, occurring when the entry was posted', () => {
    const { input, options } = balanceEventOf(entry('USD:alice', 3, { direction: 'debit', amount: 50, balanceBefore: 1020, balanceAfter: 970 }));
    expect(input).toEqual({
      id: 'bal:USD:alice:3', type: 'account.balance_changed', occurredAt: '2026-12-02T00:00:03.000Z',
      data: { account: { ownerId: 'alice', unit: 'USD' }, before: 1020, after: 970, entry: { id: 'USD:alice:3', direction: 'debit', amount: 50, source: { kind: 'api', keyId: 'key_1' } } },
    });
    expect(options).toEqual({ account: { ownerId: 'alice', unit: 'USD', balance: 970 }, cause: { eventId: 'bal:USD:alice:3', depth: 1 } });
  });

  it("of a run's entry names the run and is one deeper than it (depth 0 for entries posted before depths were recorded)", () => {
    const source = { kind: 'trigger' as const, triggerId: 'trg_0123456789abcdef', workflowId: 'trg_0123456789abcdef:evt_1', taskId: 'credit', eventId: 'evt_1' };
    expect(balanceEventOf(entry('USD:bob', 1, { source: { ...source, depth: 3 } })).options.cause).toEqual({ eventId: 'bal:USD:bob:1', workflowId: source.workflowId, depth: 4 });
    expect(balanceEventOf(entry('USD:bob', 1, { source })).options.cause).toEqual({ eventId: 'bal:USD:bob:1', workflowId: source.workflowId, depth: 1 });
  });
});

describe('a poll', () => {
  it("hands over each account's entries in seq order and deletes their marks, keeping the marks of slots without an entry", async () => {
    const outbox = new MemoryOutbox();
    for (const seq of [3, 1, 2]) outbox.mark('USD:alice', seq);
    outbox.mark('USD:alice', 4);
    outbox.mark('USD:alice', 1, 'b'); // a second attempt at slot 1, which the first one won
    for (const seq of [1, 2, 3]) outbox.entries.set(`USD:alice:${seq}`, entry('USD:alice', seq));
    const { ingested, ingest } = recorder();
    const report = await new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 }).pollOnce();
    expect(ingested.map((call) => call.input.id)).toEqual(['bal:USD:alice:1', 'bal:USD:alice:2', 'bal:USD:alice:3']);
    expect(report).toEqual({ delivered: 3, kept: 1, failedAccounts: 0, more: false });
    expect([...outbox.marks.values()].map((mark) => mark.seq)).toEqual([4]);
  });

  it('keeps the marks of an account whose ingestion failed, and delivers them at a later poll', async () => {
    const outbox = new MemoryOutbox();
    outbox.mark('USD:carol', 1);
    outbox.entries.set('USD:carol:1', entry('USD:carol', 1));
    let temporalUp = false;
    const delivered: string[] = [];
    const pump = new BalancePump({
      outbox, logger: silent, pollIntervalMs: 60_000,
      ingest: async (input) => {
        if (!temporalUp) throw new Error('Temporal is unreachable');
        delivered.push(input.id);
      },
    });
    expect(await pump.pollOnce()).toEqual({ delivered: 0, kept: 1, failedAccounts: 1, more: false });
    temporalUp = true;
    expect(await pump.pollOnce()).toEqual({ delivered: 1, kept: 0, failedAccounts: 0, more: false });
    expect(await pump.pollOnce()).toEqual({ delivered: 0, kept: 0, failedAccounts: 0, more: false });
    expect(delivered).toEqual(['bal:USD:carol:1']);
  });

  it("passes a change whose event id is stored with another body, so the account's later changes still go out", async () => {
    const outbox = new MemoryOutbox();
    for (const seq of [1, 2]) {
      outbox.mark('USD:fay', seq);
      outbox.entries.set(`USD:fay:${seq}`, entry('USD:fay', seq));
    }
    const delivered: string[] = [];
    const ingest = async (input: EventInput) => {
      if (input.id === 'bal:USD:fay:1') throw new DomainError('event_conflict', 'conflict', 'stored with a different body');
      delivered.push(input.id);
    };
    expect(await new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 }).pollOnce()).toEqual({ delivered: 2, kept: 0, failedAccounts: 0, more: false });
    expect(delivered).toEqual(['bal:USD:fay:2']);
  });

  it('pages through more marks than one read holds, every one within a sweep', async () => {
    const outbox = new MemoryOutbox();
    for (let seq = 1; seq <= 1_200; seq += 1) {
      outbox.mark('USD:dave', seq);
      outbox.entries.set(`USD:dave:${seq}`, entry('USD:dave', seq));
    }
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    expect((await pump.pollOnce()).more).toBe(true);
    expect((await pump.pollOnce()).more).toBe(true);
    expect((await pump.pollOnce()).more).toBe(false);
    expect(ingested.map((call) => call.input.id)).toEqual(Array.from({ length: 1_200 }, (_, i) => `bal:USD:dave:${i + 1}`));
    expect(outbox.marks.size).toBe(0);
  });
});

describe('a poll with routingOf', () => {
  const routing: Routing = { listening: [], routes: [{ _id: 'r1', type: 'account.balance_changed', path: 'data.account.ownerId' }] };

  it("reads what balance events route to once, after the poll's marks, and ingests each of the poll's events with it", async () => {
    const outbox = new MemoryOutbox();
    for (const owner of ['gus', 'hal']) {
      for (const seq of [1, 2]) {
        outbox.mark(`USD:${owner}`, seq);
        outbox.entries.set(`USD:${owner}:${seq}`, entry(`USD:${owner}`, seq));
      }
    }
    const passed: Array<Routing | undefined> = [];
    const pump = new BalancePump({
      outbox, logger: silent, pollIntervalMs: 60_000,
      ingest: async (_input, _actor, _options, given) => void passed.push(given),
      routingOf: async (type) => {
        outbox.calls.push(`routing ${type}`);
        return routing;
      },
    });
    expect(await pump.pollOnce()).toEqual({ delivered: 4, kept: 0, failedAccounts: 0, more: false });
    expect(outbox.calls).toEqual(['marks', 'routing account.balance_changed']);
    expect(passed).toEqual([routing, routing, routing, routing]);
    // A poll that finds no marks reads nothing else.
    await pump.pollOnce();
    expect(outbox.calls).toEqual(['marks', 'routing account.balance_changed', 'marks']);
  });

  it('fails the poll, delivering nothing and keeping every mark, when the routing cannot be read', async () => {
    const outbox = new MemoryOutbox();
    outbox.mark('USD:ivy', 1);
    outbox.entries.set('USD:ivy:1', entry('USD:ivy', 1));
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000, routingOf: async () => Promise.reject(new Error('store down')) });
    await expect(pump.pollOnce()).rejects.toThrow('store down');
    expect(ingested).toEqual([]);
    expect(outbox.marks.size).toBe(1);
  });
});

describe('an entry handed over by wake', () => {
  it('is delivered without reading it, as the event a read of it would make; an entry not handed over is read', async () => {
    const outbox = new MemoryOutbox();
    const posted = entry('USD:jan', 1);
    outbox.mark('USD:jan', 1);
    outbox.entries.set('USD:jan:1', entry('USD:jan', 1));
    outbox.mark('USD:kim', 1);
    outbox.entries.set('USD:kim:1', entry('USD:kim', 1));
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    pump.wake(posted);
    expect(await pump.pollOnce()).toEqual({ delivered: 2, kept: 0, failedAccounts: 0, more: false });
    expect(outbox.entryReads).toEqual(['USD:kim:1']);
    expect(ingested.map((call) => call.input)).toEqual([balanceEventOf(outbox.entries.get('USD:jan:1')!).input, balanceEventOf(outbox.entries.get('USD:kim:1')!).input]);
  });

  it('is delivered only once its mark is read, and read again after it was delivered', async () => {
    const outbox = new MemoryOutbox();
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    pump.wake(entry('USD:lee', 1));
    expect((await pump.pollOnce()).delivered).toBe(0);
    outbox.mark('USD:lee', 1);
    outbox.entries.set('USD:lee:1', entry('USD:lee', 1));
    expect((await pump.pollOnce()).delivered).toBe(1);
    expect(outbox.entryReads).toEqual([]);
    // A mark left for the same slot by another attempt, after the delivery: the entry is read this time, and delivered again (the events collection dedupes it).
    outbox.mark('USD:lee', 1, 'b');
    expect((await pump.pollOnce()).delivered).toBe(1);
    expect(outbox.entryReads).toEqual(['USD:lee:1']);
    expect(ingested.map((call) => call.input.id)).toEqual(['bal:USD:lee:1', 'bal:USD:lee:1']);
  });
});

describe('an entry handed over by wake with its mark', () => {
  /** The entry, posted by this process: its mark stored, the entry stored, and both handed over. */
  function posted(outbox: MemoryOutbox, pump: BalancePump, accountId: string, seq: number): LedgerEntry {
    const posting = entry(accountId, seq);
    outbox.mark(accountId, seq);
    outbox.entries.set(posting.id, posting);
    pump.wake(posting, `${accountId}:${String(seq).padStart(16, '0')}:a`);
    return posting;
  }

  it("is delivered and its mark deleted with no read of the marks or the entry, each account's in seq order", async () => {
    const outbox = new MemoryOutbox();
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    posted(outbox, pump, 'USD:max', 1);
    posted(outbox, pump, 'USD:nia', 1);
    posted(outbox, pump, 'USD:max', 2);
    expect(await pump.deliverHandedOver()).toEqual({ delivered: 3, leftForPoll: 0, failedAccounts: 0 });
    expect(outbox.reads).toBe(0);
    expect(outbox.entryReads).toEqual([]);
    expect(outbox.marks.size).toBe(0);
    const max = ingested.map((call) => call.input.id).filter((id) => id.startsWith('bal:USD:max'));
    expect(max).toEqual(['bal:USD:max:1', 'bal:USD:max:2']);
    expect(ingested).toHaveLength(3);
  });

  it('follows an entry this pump delivered; one whose previous entry it did not deliver waits for a poll, which keeps the order', async () => {
    const outbox = new MemoryOutbox();
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    posted(outbox, pump, 'USD:ola', 1);
    await pump.deliverHandedOver();
    posted(outbox, pump, 'USD:ola', 2);
    expect((await pump.deliverHandedOver()).delivered).toBe(1);
    // Seq 3 was posted by another process: this pump's seq 4 must not overtake it.
    outbox.mark('USD:ola', 3, 'other');
    outbox.entries.set('USD:ola:3', entry('USD:ola', 3));
    posted(outbox, pump, 'USD:ola', 4);
    expect(await pump.deliverHandedOver()).toEqual({ delivered: 0, leftForPoll: 1, failedAccounts: 0 });
    expect(outbox.marks.size).toBe(2);
    expect(await pump.pollOnce()).toEqual({ delivered: 2, kept: 0, failedAccounts: 0, more: false });
    expect(outbox.entryReads).toEqual(['USD:ola:3']);
    expect(ingested.map((call) => call.input.id)).toEqual(['bal:USD:ola:1', 'bal:USD:ola:2', 'bal:USD:ola:3', 'bal:USD:ola:4']);
    // Left to the poll, it is not delivered again without one.
    expect((await pump.deliverHandedOver()).delivered).toBe(0);
  });

  it('keeps its mark when its ingestion fails, and is delivered by a later poll', async () => {
    const outbox = new MemoryOutbox();
    const ingested: string[] = [];
    let down = true;
    const ingest = async (input: EventInput) => {
      if (down) throw new Error('temporal unavailable');
      ingested.push(input.id);
    };
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    posted(outbox, pump, 'USD:pia', 1);
    posted(outbox, pump, 'USD:pia', 2);
    expect(await pump.deliverHandedOver()).toEqual({ delivered: 0, leftForPoll: 2, failedAccounts: 1 });
    expect(outbox.marks.size).toBe(2);
    down = false;
    expect((await pump.pollOnce()).delivered).toBe(2);
    expect(outbox.entryReads).toEqual([]);
    expect(ingested).toEqual(['bal:USD:pia:1', 'bal:USD:pia:2']);
    expect(outbox.marks.size).toBe(0);
  });

  it('is delivered by a running pump between its polls, without reading the marks again', async () => {
    const outbox = new MemoryOutbox();
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    pump.start();
    await until(() => outbox.reads === 1);
    posted(outbox, pump, 'USD:quinn', 1);
    await until(() => ingested.length === 1);
    await until(() => outbox.marks.size === 0);
    expect(outbox.reads).toBe(1);
    await pump.stop();
  });
});

describe('a running pump', () => {
  it('polls again right after a poll during which it was woken, without waiting out its interval', async () => {
    const outbox = new MemoryOutbox();
    let open!: () => void;
    outbox.gate = new Promise((resolve) => (open = resolve));
    const { ingested, ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    pump.start();
    await until(() => outbox.reads === 1);
    // A posting lands while the first poll is reading: its wake must not be lost.
    outbox.mark('USD:erin', 1);
    outbox.entries.set('USD:erin:1', entry('USD:erin', 1));
    pump.wake();
    outbox.gate = undefined;
    open();
    await until(() => ingested.length === 1);
    expect(outbox.reads).toBe(2);
    await pump.stop();
  });

  it('stops once its poll in progress is done, and polls no more', async () => {
    const outbox = new MemoryOutbox();
    const { ingest } = recorder();
    const pump = new BalancePump({ outbox, ingest, logger: silent, pollIntervalMs: 60_000 });
    pump.start();
    await until(() => outbox.reads === 1);
    await pump.stop();
    pump.wake();
    await new Promise((resolve) => setImmediate(resolve));
    expect(outbox.reads).toBe(1);
  });
});
