// `account.balance_changed` end to end: postings by the API, by runs and by
// transfers become events (GET /v1/events/bal:<entryId>) that start runs
// like any event, once each, also when the posting process dies right after
// its entry or when several pumps run; and a chain of runs causing each
// other stops at its depth limit.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { BalancePump } from '../../../engine/events/balance-pump';
import { createEventIngestor, type EventInput, type RunOptions } from '../../../engine/events/ingest';
import { createLedger } from '../../../engine/ledger';
import { createTriggerStore } from '../../../engine/triggers/trigger-store';
import { MAX_CHAIN_DEPTH } from '../../../workflows/chain-depth';
import { startEngineHarness, type EngineHarness, type RunView } from '../../support/engine-harness';

jest.setTimeout(120_000);

let engine: EngineHarness;

beforeAll(async () => {
  engine = await startEngineHarness('balance_events', { balanceEvents: true });
});

afterAll(async () => {
  await engine?.close();
});

const newOwner = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type EventView = Record<string, any>;

/** GET /v1/events/{id} once the event is stored and dispatched. */
async function dispatchedEvent(id: string, timeoutMs = 30_000): Promise<EventView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await engine.api.request('GET', `/v1/events/${encodeURIComponent(id)}`);
    if (response.status === 200 && response.body.status === 'dispatched') return response.body;
    if (Date.now() > deadline) throw new Error(`event ${id} was not dispatched within ${timeoutMs} ms (last answer ${response.status})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function post(ownerId: string, direction: 'credit' | 'debit', amount: number, unit = 'USD'): Promise<{ id: string; createdAt: string }> {
  const response = await engine.api.request('POST', `/v1/accounts/${encodeURIComponent(ownerId)}/entries`, { unit, direction, amount, idempotencyKey: randomUUID(), createIfMissing: true });
  if (response.status !== 201) throw new Error(`posting answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** A trigger on this owner's USD balance changes (triggers share the test database, so each names its owner). */
function onBalanceOf(ownerId: string, tasks: unknown[], filter: Record<string, unknown> = {}) {
  return { name: `Balance of ${ownerId}`, on: { types: ['account.balance_changed'], filter: { 'data.account.ownerId': ownerId, 'data.account.unit': 'USD', ...filter } }, tasks };
}

const bonus = (amount: number) => ({ id: 'bonus', type: 'account', action: 'credit', amount, owner: '{{account.ownerId}}', unit: 'CREDIT', createIfMissing: true });

describe('every ledger entry is one account.balance_changed event', () => {
  it("of an API posting: bal:<entryId>, with the account, before, after and the entry, occurring when it was posted", async () => {
    const owner = newOwner('api');
    const credit = await post(owner, 'credit', 1500);
    const debit = await post(owner, 'debit', 600);
    const first = await dispatchedEvent(`bal:${credit.id}`);
    expect(first).toMatchObject({
      id: `bal:USD:${owner}:1`, type: 'account.balance_changed', occurredAt: credit.createdAt,
      data: { account: { ownerId: owner, unit: 'USD' }, before: 0, after: 1500, entry: { id: credit.id, direction: 'credit', amount: 1500, source: { kind: 'api' } } },
      runs: [],
    });
    expect((await dispatchedEvent(`bal:${debit.id}`)).data).toMatchObject({ before: 1500, after: 900, entry: { direction: 'debit', amount: 600 } });
  });

  it('of an owner id of the longest kind (200 characters) is readable by its id, which is longer than a client event id may be', async () => {
    const owner = newOwner('long').padEnd(200, 'x');
    const credit = await post(owner, 'credit', 5, 'CREDIT');
    const event = await dispatchedEvent(`bal:${credit.id}`);
    expect(event.id.length).toBeGreaterThan(200);
    expect(event.data).toMatchObject({ account: { ownerId: owner, unit: 'CREDIT' }, before: 0, after: 5 });
  });

  it("of a run's account task: its source names the run, at depth 0", async () => {
    const owner = newOwner('grant');
    const type = `grant${randomUUID().slice(0, 8)}.created`;
    const triggerId = await engine.createTrigger({ name: 'Grant', on: { types: [type] }, tasks: [{ id: 'grant', type: 'account', action: 'credit', amount: 300, owner: '{{data.owner}}', unit: 'USD', createIfMissing: true }] });
    const { runs: [run] } = await engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data: { owner } });
    const entryId = run!.tasks[0].output.entryId as string;
    const event = await dispatchedEvent(`bal:${entryId}`);
    expect(event.data).toEqual({
      account: { ownerId: owner, unit: 'USD' }, before: 0, after: 300,
      entry: { id: entryId, direction: 'credit', amount: 300, source: { kind: 'trigger', triggerId, workflowId: run!.workflowId, taskId: 'grant', eventId: run!.eventId, depth: 0 } },
    });
  });

  it('of a transfer: one event per leg, each with its own account, before and after', async () => {
    const [payer, payee] = [newOwner('payer'), newOwner('payee')];
    await post(payer, 'credit', 1000);
    const type = `pay${randomUUID().slice(0, 8)}.requested`;
    await engine.createTrigger({ name: 'Pay', on: { types: [type] }, tasks: [{ id: 'move', type: 'transfer', from: '{{data.from}}', to: '{{data.to}}', amount: 400, unit: 'USD', createIfMissing: true }] });
    const { runs: [run] } = await engine.sendAndSettle({ id: `evt_${randomUUID()}`, type, data: { from: payer, to: payee } });
    const { debitEntryId, creditEntryId } = run!.tasks[0].output;
    expect((await dispatchedEvent(`bal:${debitEntryId}`)).data).toMatchObject({ account: { ownerId: payer, unit: 'USD' }, before: 1000, after: 600, entry: { direction: 'debit', amount: 400 } });
    expect((await dispatchedEvent(`bal:${creditEntryId}`)).data).toMatchObject({ account: { ownerId: payee, unit: 'USD' }, before: 0, after: 400, entry: { direction: 'credit', amount: 400 } });
  });
});

describe('a trigger on account.balance_changed', () => {
  it('with a filter for crossing below 1000 starts exactly one run, for the crossing, with the account in its context', async () => {
    const owner = newOwner('low');
    const triggerId = await engine.createTrigger(onBalanceOf(owner, [bonus(5)], { 'data.before': { $gte: 1000 }, 'data.after': { $lt: 1000 } }));
    const entries = [await post(owner, 'credit', 1500), await post(owner, 'debit', 400), await post(owner, 'debit', 200), await post(owner, 'debit', 100)];
    const events = await Promise.all(entries.map((entry) => dispatchedEvent(`bal:${entry.id}`)));
    expect(events.map((event) => [event.data.before, event.data.after, event.runs.length])).toEqual([[0, 1500, 0], [1500, 1100, 0], [1100, 900, 1], [900, 800, 0]]);

    const run = await engine.settledRun(events[2]!.runs[0].workflowId);
    expect(run).toMatchObject({ status: 'completed', triggerId, cause: { eventId: `bal:USD:${owner}:3`, depth: 1 } });
    expect(run.cause.workflowId).toBeUndefined();
    // {{account.ownerId}} named the owner whose balance crossed.
    expect(run.tasks[0]).toMatchObject({ status: 'completed', output: { ownerId: owner, unit: 'CREDIT', amount: 5 } });
    expect(await engine.balanceOf(owner, 'CREDIT')).toBe(5);
  });

  it('still gets the change of a posting whose process died right after inserting the entry, once', async () => {
    const owner = newOwner('crash');
    await engine.createTrigger(onBalanceOf(owner, [bonus(1)]));
    const crashing = createLedger({ connection: engine.connection, faultPoints: { afterEntryInserted: async () => { throw new Error('killed right after the entry insert'); } } });
    await expect(crashing.post({ ownerId: owner, unit: 'USD', direction: 'credit', amount: 2500, idempotencyKey: `crash-${owner}`, createIfMissing: true, source: { kind: 'api', keyId: 'key_crash' } })).rejects.toThrow('killed right after the entry insert');

    const event = await dispatchedEvent(`bal:USD:${owner}:1`);
    expect(event.data).toMatchObject({ before: 0, after: 2500 });
    expect(event.runs).toHaveLength(1);
    expect((await engine.settledRun(event.runs[0].workflowId)).status).toBe('completed');
    expect(await engine.balanceOf(owner, 'CREDIT')).toBe(1);
  });

  it('starts one run per change while three pumps deliver at once', async () => {
    const owner = newOwner('pumps');
    await engine.createTrigger(onBalanceOf(owner, [bonus(1)]));
    const logger = pino({ level: 'silent' });
    const delivered: string[] = [];
    const extraPumps = [1, 2].map(() => {
      const ingestor = createEventIngestor({ connection: engine.connection, triggers: createTriggerStore(engine.connection), temporal: engine.worker.client, taskQueue: engine.worker.taskQueue, logger });
      const ingest = (input: EventInput, actor: string, options: RunOptions) => {
        delivered.push(input.id);
        return ingestor.ingest(input, actor, options);
      };
      return new BalancePump({ outbox: engine.ledger.balanceChanges, ingest, logger, pollIntervalMs: 10 });
    });
    extraPumps.forEach((pump) => pump.start());
    try {
      const entries = [];
      for (let i = 0; i < 8; i += 1) entries.push(await post(owner, 'credit', 10));
      const events = await Promise.all(entries.map((entry) => dispatchedEvent(`bal:${entry.id}`)));
      expect(events.map((event) => event.runs.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
      const runs = await Promise.all(events.map((event) => engine.settledRun(event.runs[0].workflowId)));
      expect(new Set(runs.map((run) => run.workflowId)).size).toBe(8);
      expect(runs.every((run) => run.status === 'completed')).toBe(true);
      // One bonus per change, whichever pump delivered it and however many did.
      expect(await engine.balanceOf(owner, 'CREDIT')).toBe(8);
    } finally {
      await Promise.all(extraPumps.map((pump) => pump.stop()));
    }
    expect(delivered.length).toBeGreaterThan(0);
  });
});

describe('a chain of runs causing each other', () => {
  it(`stops by itself: a trigger crediting its own account runs ${MAX_CHAIN_DEPTH} times, and the next run fails with chain_too_deep`, async () => {
    const owner = newOwner('loop');
    const triggerId = await engine.createTrigger(onBalanceOf(owner, [{ id: 'again', type: 'account', action: 'credit', amount: 1, owner: '{{account.ownerId}}', unit: 'USD' }, bonus(1)]));
    await post(owner, 'credit', 100);

    const runs: RunView[] = [];
    for (let seq = 1; seq <= MAX_CHAIN_DEPTH + 1; seq += 1) {
      const event = await dispatchedEvent(`bal:USD:${owner}:${seq}`);
      expect(event.runs).toHaveLength(1);
      runs.push(await engine.settledRun(event.runs[0].workflowId));
    }
    runs.slice(0, MAX_CHAIN_DEPTH).forEach((run, index) => {
      expect(run).toMatchObject({ status: 'completed', triggerId, cause: { eventId: `bal:USD:${owner}:${index + 1}`, depth: index + 1 } });
      // Each run after the first was caused by the one before it.
      expect(run.cause.workflowId).toBe(index === 0 ? undefined : runs[index - 1]!.workflowId);
    });

    const last = runs[MAX_CHAIN_DEPTH]!;
    expect(last).toMatchObject({ status: 'failed', phase: 'failed', cause: { depth: MAX_CHAIN_DEPTH + 1, workflowId: runs[MAX_CHAIN_DEPTH - 1]!.workflowId }, error: { code: 'chain_too_deep' } });
    expect(last.error.message).toContain(`the chain of runs causing each other reached the limit of ${MAX_CHAIN_DEPTH}`);
    expect(last.tasks.map((task: RunView) => [task.id, task.status, task.skipReason])).toEqual([
      ['again', 'skipped', `the chain of runs causing each other reached the limit of ${MAX_CHAIN_DEPTH}`],
      ['bonus', 'skipped', `the chain of runs causing each other reached the limit of ${MAX_CHAIN_DEPTH}`],
    ]);
    // The failed run posted nothing, so nothing follows it: 100 plus one credit per completed run.
    expect(await engine.balanceOf(owner)).toBe(100 + MAX_CHAIN_DEPTH);
    expect(await engine.balanceOf(owner, 'CREDIT')).toBe(MAX_CHAIN_DEPTH);
    expect((await engine.ledger.getAccount(owner, 'USD'))?.seq).toBe(MAX_CHAIN_DEPTH + 1);
  });
});

describe('POST /v1/events', () => {
  it.each(['account.anything', 'account.balance_changed', 'schedule.anything'])('refuses a client event of the internal type %s with 422 naming type', async (type) => {
    const response = await engine.api.request('POST', '/v1/events', { id: `evt_${randomUUID()}`, type, data: {} });
    expect(response.status).toBe(422);
    expect(response.body.errors).toEqual([expect.objectContaining({ path: 'type', message: expect.stringContaining('produced by Creditflow only') })]);
  });
});
